# Copyright 2026 vjepa_nodes contributors
#
# Licensed under the Apache License, Version 2.0 (the "License");
# you may not use this file except in compliance with the License.
# You may obtain a copy of the License at
#
#     http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS,
# WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
# See the License for the specific language governing permissions and
# limitations under the License.

"""
obstacle_detector: a lifecycle node that runs one ObstacleDetector for one or more cameras.

configure loads the model and creates each camera's publishers; activate subscribes the
cameras and starts the inference thread; deactivate and cleanup undo them. Image callbacks
only check, convert and buffer (ros/camera_io.py); a worker thread analyses the newest ready
clip of every camera in one batch, so a slow model never blocks them, and publishes each
camera's decision; heat maps and overlays follow on a thread of their own (ImagePublishing),
while the worker goes on with the next batch. Images whose stamps are
far from this node's clock are dropped (README, "Time and clocks"); each result is stamped with
the capture stamp of its clip's newest image.
"""

import gc
import logging
import os
import sys
import threading
import time

from diagnostic_msgs.msg import DiagnosticArray
import rclpy
from rclpy.clock import Clock, ClockType
from rclpy.executors import SingleThreadedExecutor
from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn

from vjepa_nodes.perception.camera_stream import DetectionResult
from vjepa_nodes.perception.config import DetectorConfig
from vjepa_nodes.perception.detector import ObstacleDetector
from vjepa_nodes.ros import shutdown
from vjepa_nodes.ros.camera_io import CameraIO
from vjepa_nodes.ros.detector_outputs import RosLogHandler
from vjepa_nodes.ros.diagnostics import detector_status
from vjepa_nodes.ros.heap import freeze_heap
from vjepa_nodes.ros.image_publishing import ImagePublishing
from vjepa_nodes.ros.node_settings import DetectorNodeSettings, parameter
from vjepa_nodes.ros.parameters import (
    declare_settings, descriptor, result, settings_from_parameters)
from vjepa_nodes.settings import is_name, setting_names, setting_of

STALL_LIMIT = 60.0  # s of images without an analysed clip before /diagnostics says ERROR
WORKER_EXIT_WAIT = 3.0  # s a shutting-down process waits for the clip in progress
# The image callbacks (eight cameras: 240 a second), the inference worker and the image thread
# share one interpreter. A thread that wants it back after a CUDA wait or a torch call waits for
# the holder to let go, by default up to 5 ms each time; a clip makes dozens of such calls.
SWITCH_INTERVAL = 0.0005  # s


class ObstacleDetectorNode(LifecycleNode):
    """Publish each camera's scores, regions, obstacle flag, perception, heat map, overlay."""

    # Set before __init__ can fail: rclpy destroys half-built nodes too.
    _worker: threading.Thread | None = None

    def __init__(self, **kwargs) -> None:
        super().__init__('obstacle_detector', **kwargs)
        declare_settings(self, 'obstacle_detector')
        self._settings = settings_from_parameters(self, DetectorNodeSettings())
        self._setting_names = setting_names(DetectorNodeSettings(), DetectorConfig())
        self._declare_camera_transports()
        self.add_on_set_parameters_callback(self._on_set_parameters)
        self._detector: ObstacleDetector | None = None
        self.cameras: dict[str, CameraIO] = {}  # by name, from configure to cleanup
        self._running = threading.Event()
        self._clip_ready = threading.Event()  # some camera's clip is due: wake the worker
        self._publish_lock = threading.Lock()  # no publishing once stop_inference began
        self._heap_frozen = False  # see _work
        self._images = ImagePublishing(self._publish_images)
        self._activated_at = time.monotonic()
        self._diagnostics = self.create_publisher(DiagnosticArray, '/diagnostics', 10)
        self.create_timer(1.0, self._on_diagnostics_timer,
                          clock=Clock(clock_type=ClockType.STEADY_TIME))

    def _declare_camera_transports(self) -> None:
        """Declare <camera>.image_transport for each named camera, the node's as default."""
        transport_field, _ = parameter('obstacle_detector', 'image_transport')
        names = self.get_parameter('cameras').value
        for name in names if isinstance(names, (list, tuple)) else ():
            if is_name(name):  # else configuring says what is wrong
                self.declare_parameter(f'{name}.image_transport',
                                       self._settings.image_transport,
                                       descriptor(transport_field))

    # lifecycle ---------------------------------------------------------------------------
    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        self.get_logger().info('configuring: loading the model')
        try:
            self._detector = ObstacleDetector(
                config=settings_from_parameters(self, DetectorConfig()))
            self.cameras = {name: CameraIO(self, name, self._transport(name),
                                           lambda: self._settings, self._on_frame,
                                           self._publish_diagnostics)
                            for name in self._detector.cameras}
        except Exception as error:  # noqa: B902 - rclpy would turn it into a silent ERROR
            self.get_logger().error(f'cannot configure: {error}')
            self._detector, self.cameras = None, {}
            return TransitionCallbackReturn.FAILURE
        detector = self._detector
        if detector.backend.random_weights:
            self.get_logger().warning('RANDOM WEIGHTS: scores are meaningless; set checkpoint')
        device, precision = detector.compute
        self.get_logger().info(
            f'V-JEPA {detector.config.model_version} {detector.config.model_size} on {device} in '
            f'{precision}, backend {detector.backend.description} '
            f'({detector.backend_choice.reason}), weights: {detector.backend.weights_source}')
        for camera in self.cameras.values():
            camera.create_outputs(detector.config.surprise)
            if camera.name:
                self.get_logger().info(f'camera {camera.name}: images on '
                                       f'{camera.image_topic} ({camera.transport})')
        return super().on_configure(state)

    def _transport(self, name: str) -> str:
        """Return a camera's image transport: its own parameter, else the node's."""
        if not name:
            return self._settings.image_transport
        key = f'{name}.image_transport'
        transport_field, _ = parameter('obstacle_detector', 'image_transport')
        return setting_of(transport_field).check(key, self.get_parameter(key).value, str)

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        for camera in self.cameras.values():
            camera.best_effort_fallback = False
            camera.subscribe()
        self._running.set()
        self._activated_at = time.monotonic()
        self._images.start()
        self._worker = threading.Thread(target=self._work, name='inference', daemon=True)
        self._worker.start()
        self.get_logger().info('active: analysing images')
        return super().on_activate(state)  # enables the lifecycle publishers

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        self.stop_inference()
        for camera in self.cameras.values():
            camera.unsubscribe()
        self._detector.reset()
        return super().on_deactivate(state)

    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._release()
        return super().on_cleanup(state)

    def on_shutdown(self, state: LifecycleState) -> TransitionCallbackReturn:
        self.stop_inference()  # active -> shutting down skips on_deactivate
        for camera in self.cameras.values():
            camera.unsubscribe()
        self._release()
        return super().on_shutdown(state)

    def stop_inference(self, timeout: float | None = None) -> None:
        """
        Stop the inference thread (idempotent).

        Nothing is published after this returns, even if the clip in progress outlives
        `timeout`; then `inference_running` stays True until the thread ends with that clip.
        """
        with self._publish_lock:
            self._running.clear()
        self._clip_ready.set()
        self._images.stop(timeout)
        if self._worker is not None:
            self._worker.join(timeout)  # at most one batch: never two workers at once
            if not self._worker.is_alive():
                self._worker = None

    def destroy_node(self) -> None:
        # No worker may outlive its node: it would publish on destroyed publishers, or run in
        # torch while the interpreter exits.
        if self._worker is not None:
            self.stop_inference(timeout=WORKER_EXIT_WAIT)
        super().destroy_node()

    @property
    def inference_running(self) -> bool:
        """Return whether the inference thread exists (it may outlive a stop with a timeout)."""
        return self._worker is not None

    def _release(self) -> None:
        for camera in self.cameras.values():
            camera.destroy_outputs()
        self.cameras = {}
        self._detector = None  # frees the model; the next configure loads it again
        gc.unfreeze()  # what the model left in cycles can be collected
        self._heap_frozen = False

    # data path ---------------------------------------------------------------------------
    def _on_frame(self, frame, stamp: float, camera: str) -> None:
        detector = self._detector
        if detector is not None:
            detector.add_frame(frame, stamp, camera)
            # Only a due clip wakes the worker: eight cameras' images would wake it 240 times a
            # second, each wake taking the interpreter from the thread that serves a clip.
            if detector.camera(camera).buffer.clip_ready:
                self._clip_ready.set()

    def _work(self) -> None:
        while self._running.is_set():
            detector = self._detector
            if detector is not None and not detector.clip_ready():  # else: left out last time
                self._clip_ready.wait(timeout=0.5)
            self._clip_ready.clear()
            detector = self._detector
            if not self._running.is_set() or detector is None:
                break
            try:
                detections = detector.detect_all()
            except Exception as error:  # noqa: B902 - one bad batch must not end the service
                detections = None
                failed = {name: error for name in self.cameras}
            else:
                failed = detections.failures
            with self._publish_lock:
                if not self._running.is_set():
                    return
                self._publish_batch(detections.results if detections else {}, failed)
            if failed:
                self._publish_diagnostics()
            if detections and detections.results and not self._heap_frozen:
                # The model is loaded and its first clips compiled: what exists now lives as
                # long as the detector, so full collections need not scan it (heap.py).
                frozen, took = freeze_heap()
                self._heap_frozen = True
                self.get_logger().info(f'{frozen} objects left out of full garbage '
                                       f'collections (collected once, {took:.0f} ms)')

    def _publish_batch(self, results: dict[str, DetectionResult],
                       failed: dict[str, Exception]) -> None:
        """
        Publish every camera's decision and failure; hand the images to ImagePublishing.

        So no camera of a batch waits for the others' camera-sized heat maps, and the next
        batch need not wait for them either. A camera whose publishing fails joins `failed`;
        the others go on.
        """
        for name, detection in results.items():
            camera = self.cameras[name]
            camera.clips.add(detection.latency)
            camera.last_clip_at = time.monotonic()
            if name in failed:
                continue
            try:
                camera.publish_decision(detection)
            except Exception as error:  # noqa: B902 - this camera's only; go on
                failed[name] = error
        for name, error in failed.items():
            self._report_failure(self.cameras[name], error)
        self._images.submit({name: detection for name, detection in results.items()
                             if name not in failed})

    def _publish_images(self, name: str, detection: DetectionResult) -> None:
        """Publish one camera's images (ImagePublishing's thread); a failure fails its clip."""
        try:
            detection.heatmap, detection.surprise_heatmap  # made before taking the lock
            failure = None
        except Exception as error:  # noqa: B902 - this camera's only; go on
            failure = error
        with self._publish_lock:
            if not self._running.is_set():
                return
            camera = self.cameras[name]
            if failure is None:
                try:
                    camera.publish_images(detection)
                    return
                except Exception as error:  # noqa: B902 - this camera's only; go on
                    failure = error
            self._report_failure(camera, failure)

    def _report_failure(self, camera: CameraIO, error: Exception) -> None:
        """Report a camera's failed clip; a report that fails too is only logged."""
        try:
            camera.publish_failure(error)
        except Exception as second:  # noqa: B902 - the worker must outlive any one camera
            self.get_logger().error(f'camera {camera.name or "-"}: cannot report a failed '
                                    f'clip ({error}): {second}', throttle_duration_sec=5.0)

    # parameters and diagnostics ----------------------------------------------------------
    def _on_set_parameters(self, parameters):
        if not any(p.name in self._setting_names for p in parameters):
            return result('')
        detector = self._detector
        try:  # read-only settings never get here: rclpy refuses them first
            settings = settings_from_parameters(self, self._settings, parameters)
            config = settings_from_parameters(
                self, detector.config if detector else DetectorConfig(), parameters)
            if detector is not None:  # take effect at once; the model stays loaded
                detector.update_config(config)
        except ValueError as error:
            return result(str(error))
        self._settings = settings
        return result('')

    def _on_diagnostics_timer(self) -> None:
        for camera in list(self.cameras.values()):
            if camera.subscription is not None:  # active: are there cameras it cannot hear?
                camera.hearing.check()
        self._publish_diagnostics()

    def _publish_diagnostics(self) -> None:
        detector = self._detector
        fqn = self.get_fully_qualified_name()
        stamp = self.get_clock().now().to_msg()
        if detector is None:
            array = DiagnosticArray(status=[detector_status(
                f'{fqn}: V-JEPA obstacle detector', {'state': 'unconfigured'}, None, None, [],
                ['not configured'])])
        else:
            device, precision = detector.compute
            model = {'device': device, 'precision': precision,
                     'backend': detector.backend.description,
                     'backend choice': detector.backend_choice.reason,
                     'model': (f'V-JEPA {detector.config.model_version} '
                               f'{detector.config.model_size}'),
                     'weights source': detector.backend.weights_source,
                     'score source': detector.config.score_source,
                     'surprise': detector.surprise.description if detector.surprise else 'off'}
            array = DiagnosticArray(status=[self._camera_status(detector, camera, model)
                                            for camera in self.cameras.values()])
        array.header.stamp = stamp
        self._diagnostics.publish(array)

    def _camera_status(self, detector: ObstacleDetector, camera: CameraIO, model: dict):
        """One camera's DiagnosticStatus: the model's facts and this camera's own."""
        stream = detector.camera(camera.name)
        counters = stream.buffer.counters
        facts = {**model, 'camera': camera.name or '-', 'image topic': camera.image_topic,
                 'dropped frames': str(counters.dropped),
                 'rejected messages': str(camera.rejected),
                 'stale images dropped': str(camera.stale.total),
                 'failed clips': str(camera.failures.total),
                 'heat maps replaced before publishing': str(self._images.replaced[camera.name]),
                 'unchanged images (s)': f'{stream.freeze.unchanged_for:.1f}',
                 'restarts': str(counters.resets)}
        problems, warnings = [], []
        if detector.backend.random_weights:
            warnings.append('random weights: scores are meaningless')
        if camera.subscription is not None:
            problems += camera.hearing.problems
        for meter, reason in ((camera.failures, camera.failure_reason),
                              (camera.stale, camera.stale_reason)):
            if meter.age() is not None:  # within the last WINDOW seconds
                problems.append(reason)
        frozen = stream.freeze.problem(detector.config.frozen_after)
        if frozen:
            problems.append(frozen)
        now = time.monotonic()
        silent = now - max(camera.last_image_at or 0.0, self._activated_at)
        stalled = now - max(camera.last_clip_at or 0.0, self._activated_at)
        if camera.subscription is None:
            warnings.append('inactive')
        elif silent > self._settings.max_image_age and not problems:
            warnings.append(f'stale: no usable images on {camera.image_topic} for '
                            f'{silent:.1f} s')
        elif stalled > STALL_LIMIT:
            problems.append(f'images arrive but no clip was analysed in {stalled:.0f} s')
        name = f'{self.get_fully_qualified_name()}: V-JEPA obstacle detector'
        return detector_status(name + (f', camera {camera.name}' if camera.name else ''),
                               facts, camera.frames, camera.clips, problems, warnings)


def main(args: list[str] | None = None) -> None:
    sys.setswitchinterval(SWITCH_INTERVAL)
    request = shutdown.init(args)
    node = shutdown.create_node(ObstacleDetectorNode, 'obstacle_detector')
    # Without this the first clip's minutes of compilation on a Jetson would pass in silence.
    core_logger = logging.getLogger('vjepa_nodes')
    core_logger.setLevel(logging.INFO)
    core_logger.propagate = False
    core_logger.addHandler(RosLogHandler(node.get_logger()))
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    configured = True
    try:
        if node.get_parameter('autostart').value:
            configured = node.trigger_configure() == TransitionCallbackReturn.SUCCESS
            if configured:
                node.trigger_activate()
        if configured:  # else the reason is logged, and a launch file shows the exit
            shutdown.spin_until_shutdown(executor, request)
    finally:
        executor.shutdown()
        node.destroy_node()
        rclpy.try_shutdown()
    if node.inference_running:  # a clip is still on the device: do not tear the interpreter down
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0 if configured else 1)
    sys.exit(0 if configured else 1)
