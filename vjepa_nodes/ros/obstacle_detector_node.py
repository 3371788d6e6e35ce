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
obstacle_detector: a lifecycle node that runs the ObstacleDetector on a camera stream.

configure loads the model and creates the publishers; activate subscribes `image` and starts
the inference thread; deactivate and cleanup undo them. The image callback only checks,
converts and buffers; a worker thread analyses the newest ready clip, so a slow model never
blocks it. Images whose stamps are far from this node's clock are dropped (see README, "Time
and clocks"); each result is stamped with the capture stamp of the clip's newest image.
"""

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
from rclpy.qos import QoSPolicyKind, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import Image
from std_msgs.msg import Bool, Float32, Float32MultiArray

try:
    from rclpy.event_handler import SubscriptionEventCallbacks
except ImportError:  # Humble
    from rclpy.qos_event import SubscriptionEventCallbacks

from vjepa_nodes.device import precision_name
from vjepa_nodes.freshness import stamp_problem
from vjepa_nodes.perception.config import DetectorConfig
from vjepa_nodes.perception.detector import DetectionResult, ObstacleDetector
from vjepa_nodes.perception.preprocessing import FrameError
from vjepa_nodes.ros import shutdown
from vjepa_nodes.ros.detector_outputs import HeaderBook, overlay, RosLogHandler
from vjepa_nodes.ros.diagnostics import detector_status, RateMeter, WINDOW
from vjepa_nodes.ros.image_conversions import (
    frame_to_image, heatmap_to_image, image_to_frame, ImageError, stamp_seconds)
from vjepa_nodes.ros.node_settings import DetectorNodeSettings
from vjepa_nodes.ros.parameters import (
    declare_settings, result, setting_names, settings_from_parameters)
from vjepa_nodes.ros.score_messages import (
    perception_to_msg, region_scores_to_msg)

OUTPUT_QOS = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE)
STALL_LIMIT = 60.0  # s of images without an analysed clip before /diagnostics says ERROR
WORKER_EXIT_WAIT = 3.0  # s a shutting-down process waits for the clip in progress
CLOCK_ADVICE = ("image stamps must be on this node's clock: sync the camera's and this "
                "machine's clocks (e.g. chrony), and replay recordings with use_sim_time:=true "
                'and `ros2 bag play --clock`')


class ObstacleDetectorNode(LifecycleNode):
    """Publish scores, regions, obstacle flag, perception, heat map, overlay and diagnostics."""

    # Set before __init__ can fail: rclpy destroys half-built nodes too.
    _worker: threading.Thread | None = None

    def __init__(self, **kwargs) -> None:
        super().__init__('obstacle_detector', **kwargs)
        declare_settings(self, 'obstacle_detector')
        self._settings = settings_from_parameters(self, DetectorNodeSettings())
        self._setting_names = setting_names(DetectorNodeSettings(), DetectorConfig())
        self.add_on_set_parameters_callback(self._on_set_parameters)
        self._detector: ObstacleDetector | None = None
        self._outputs: dict = {}
        self._subscription = None
        self._best_effort_fallback = False  # image_reliability auto met a best-effort camera
        self._resubscribe_timer = None
        self._running = threading.Event()
        self._frame_ready = threading.Event()
        self._publish_lock = threading.Lock()  # no publishing once stop_inference began
        self._headers = HeaderBook()
        self._frames, self._clips, self._stale = RateMeter(), RateMeter(), RateMeter()
        self._failures = RateMeter()
        self._rejected = 0
        self._stale_reason = self._failure_reason = ''  # the latest of each, for diagnostics
        self.incompatible_qos_events = 0
        self._last_clip_at: float | None = None
        self._activated_at = time.monotonic()
        self._diagnostics = self.create_publisher(DiagnosticArray, '/diagnostics', 10)
        self.create_timer(1.0, self._publish_diagnostics,
                          clock=Clock(clock_type=ClockType.STEADY_TIME))

    # lifecycle ---------------------------------------------------------------------------
    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        self.get_logger().info('configuring: loading the model')
        try:
            self._detector = ObstacleDetector(
                config=settings_from_parameters(self, DetectorConfig()))
        except Exception as error:  # noqa: B902 - rclpy would turn it into a silent ERROR
            self.get_logger().error(f'cannot configure: {error}')
            return TransitionCallbackReturn.FAILURE
        detector = self._detector
        if detector.backend.random_weights:
            self.get_logger().warning('RANDOM WEIGHTS: scores are meaningless; set checkpoint')
        self.get_logger().info(
            f'V-JEPA {detector.config.model_version} {detector.config.model_size} on '
            f'{detector.device} in '
            f'{precision_name(detector.dtype)}, backend {detector.backend.description}, '
            f'weights: {detector.backend.weights_source}')
        for name, kind in (('motion_score', Float32), ('region_scores', Float32MultiArray),
                           ('obstacle', Bool), ('perception', DiagnosticArray),
                           ('heatmap', Image), ('debug_image', Image)):
            self._outputs[name] = self.create_lifecycle_publisher(kind, name, OUTPUT_QOS)
        return super().on_configure(state)

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._best_effort_fallback = False
        self._subscribe()
        self._running.set()
        self._activated_at = time.monotonic()
        self._worker = threading.Thread(target=self._work, name='inference', daemon=True)
        self._worker.start()
        self.get_logger().info('active: analysing images')
        return super().on_activate(state)  # enables the lifecycle publishers

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        self.stop_inference()
        self.destroy_subscription(self._subscription)
        self._subscription = None
        self._detector.reset()
        return super().on_deactivate(state)

    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._release()
        return super().on_cleanup(state)

    def on_shutdown(self, state: LifecycleState) -> TransitionCallbackReturn:
        self.stop_inference()  # active -> shutting down skips on_deactivate
        if self._subscription is not None:
            self.destroy_subscription(self._subscription)
            self._subscription = None
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
        self._frame_ready.set()
        if self._worker is not None:
            self._worker.join(timeout)  # at most one clip: never two workers at once
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
        for publisher in self._outputs.values():
            self.destroy_lifecycle_publisher(publisher)
        self._outputs.clear()
        self._detector = None  # frees the model; the next configure loads it again

    # data path ---------------------------------------------------------------------------
    def _on_image(self, msg: Image) -> None:
        detector = self._detector
        if detector is None:
            return
        stamp = stamp_seconds(msg.header)
        settings = self._settings
        problem = stamp_problem('images', stamp, self.get_clock().now().nanoseconds * 1e-9,
                                settings.max_image_age, settings.stamp_tolerance)
        if problem:
            self._stale.add()
            self._stale_reason = f'dropping images: {problem}'
            self.get_logger().error(f'dropping images: {problem}; {CLOCK_ADVICE}',
                                    throttle_duration_sec=5.0)
            return
        try:
            frame, order = image_to_frame(msg)
            self._headers.add(stamp, msg.header)  # before the frame can reach a clip
            detector.add_frame(frame[..., ::-1] if order == 'bgr' else frame, stamp)
        except (ImageError, FrameError, ValueError) as error:
            self._rejected += 1
            self.get_logger().error(f'rejected image: {error}', throttle_duration_sec=5.0)
            return
        self._frames.add()
        self._frame_ready.set()

    def _subscribe(self) -> None:
        self._subscription = self.create_subscription(
            Image, 'image', self._on_image, image_qos(self._settings, self._best_effort_fallback),
            event_callbacks=SubscriptionEventCallbacks(
                incompatible_qos=self._on_incompatible_qos))

    def _on_incompatible_qos(self, info) -> None:
        self.incompatible_qos_events += 1
        if (self._settings.image_reliability == 'auto' and not self._best_effort_fallback
                and int(info.last_policy_kind) == QoSPolicyKind.RELIABILITY):
            self._best_effort_fallback = True
            self.get_logger().warning(
                f'a best-effort camera publishes on {self._subscription.topic_name}: '
                'subscribing best effort (large images may be lost; a reliable camera '
                'publisher delivers them all)')
            # Not from inside the subscription's own event callback: on the next spin.
            self._resubscribe_timer = self.create_timer(0.0, self._on_resubscribe)
            return
        ours = self._settings.image_reliability
        advice = ('set image_reliability:=auto (accepts every camera)' if ours == 'reliable'
                  else 'check the camera publisher QoS')
        self.get_logger().error(
            f'a publisher on {self._subscription.topic_name} offers QoS incompatible with ours '
            f'(policy {info.last_policy_kind}, we ask for {ours}): no images arrive; {advice}',
            throttle_duration_sec=10.0)

    def _on_resubscribe(self) -> None:
        self.destroy_timer(self._resubscribe_timer)  # once
        if self._subscription is not None:  # still active
            self.destroy_subscription(self._subscription)
            self._subscribe()

    def _work(self) -> None:
        while self._running.is_set():
            self._frame_ready.wait(timeout=0.5)
            self._frame_ready.clear()
            detector = self._detector
            if not self._running.is_set() or detector is None:
                break
            try:
                detection = detector.detect()
            except Exception as error:  # noqa: B902 - one bad clip must not end the service
                self._on_failure(error)
                continue
            if detection is not None:
                self._clips.add(detection.latency)
                self._last_clip_at = time.monotonic()
                self._publish(detection)

    def _on_failure(self, error: Exception) -> None:
        """Report a failed clip at once (log, diagnostics, a stop for the avoidance node)."""
        self._failures.add()
        self._failure_reason = f'inference failed: {type(error).__name__}: {error}'
        self.get_logger().error(f'{self._failure_reason}; skipping this clip',
                                throttle_duration_sec=5.0)
        header = self._headers.newest()
        with self._publish_lock:
            if self._running.is_set():
                self._outputs['perception'].publish(perception_to_msg(
                    header, {'left': 0.0, 'center': 0.0, 'right': 0.0}, 0.0, False, False,
                    self._failure_reason))
        self._publish_diagnostics()

    def _publish(self, detection: DetectionResult) -> None:
        header = self._headers.get(detection.clip_end)
        frame = detection.last_frame
        pub = self._outputs
        with self._publish_lock:
            if not self._running.is_set():
                return
            pub['obstacle'].publish(Bool(data=detection.obstacle))
            if detection.has_reference:  # no reference: silence, never a false all-clear
                pub['motion_score'].publish(Float32(data=detection.motion_score))
                pub['region_scores'].publish(region_scores_to_msg(detection.region_scores))
            pub['perception'].publish(perception_to_msg(
                header, detection.region_scores, detection.motion_score, detection.obstacle,
                detection.has_reference, detection.problem))
            pub['heatmap'].publish(heatmap_to_image(detection.heatmap, header))
            if pub['debug_image'].get_subscription_count() > 0:
                pub['debug_image'].publish(
                    frame_to_image(overlay(frame, detection), 'rgb8', header))

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

    def _publish_diagnostics(self) -> None:
        detector = self._detector
        problems, warnings = [], []
        if detector is None:
            facts = {'state': 'unconfigured'}
            warnings.append('not configured')
        else:
            counters = detector.counters
            unchanged = detector.freeze.unchanged_for
            facts = {'device': str(detector.device), 'precision': precision_name(detector.dtype),
                     'backend': detector.backend.description,
                     'model': (f'V-JEPA {detector.config.model_version} '
                               f'{detector.config.model_size}'),
                     'weights source': detector.backend.weights_source,
                     'dropped frames': str(counters.dropped),
                     'rejected messages': str(self._rejected),
                     'stale images dropped': str(self._stale.total),
                     'failed clips': str(self._failures.total),
                     'unchanged images (s)': f'{unchanged:.1f}',
                     'restarts': str(counters.resets)}
            if detector.backend.random_weights:
                warnings.append('random weights: scores are meaningless')
            for meter, reason in ((self._failures, self._failure_reason),
                                  (self._stale, self._stale_reason)):
                if meter.age() is not None:  # within the last WINDOW seconds
                    problems.append(reason)
            frozen = detector.freeze.problem(detector.config.frozen_after)
            if frozen:
                problems.append(frozen)
            stalled = time.monotonic() - max(self._last_clip_at or 0.0, self._activated_at)
            if self._subscription is None:
                warnings.append('inactive')
            elif self._frames.age() is None and not problems:
                warnings.append(f'no images received in {WINDOW:.0f} s')
            elif stalled > STALL_LIMIT:
                problems.append(f'images arrive but no clip was analysed in {stalled:.0f} s')
        self._diagnostics.publish(detector_status(
            f'{self.get_fully_qualified_name()}: V-JEPA 2 obstacle detector', facts,
            self._frames, self._clips,
            problems, warnings, self.get_clock().now().to_msg()))


def image_qos(settings: DetectorNodeSettings, best_effort_fallback: bool = False) -> QoSProfile:
    """Return the QoS of the image subscription."""
    best_effort = settings.image_reliability == 'best_effort' or best_effort_fallback
    reliability = ReliabilityPolicy.BEST_EFFORT if best_effort else ReliabilityPolicy.RELIABLE
    return QoSProfile(depth=settings.image_depth, reliability=reliability)


def main(args: list[str] | None = None) -> None:
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
