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
the inference thread; deactivate and cleanup undo them. The image callback only converts and
buffers; a worker thread analyses the newest ready clip, so a slow model never blocks it.
"""

from collections import OrderedDict
import logging
import sys
import threading
import time

import cv2
from diagnostic_msgs.msg import DiagnosticArray
import numpy as np
import rclpy
from rclpy.clock import Clock, ClockType
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import Image
from std_msgs.msg import Bool, Float32, Float32MultiArray, Header

try:
    from rclpy.event_handler import SubscriptionEventCallbacks
except ImportError:  # Humble
    from rclpy.qos_event import SubscriptionEventCallbacks

from vjepa_nodes.device import precision_name
from vjepa_nodes.encoder.build import RANDOM_WEIGHTS_SOURCE
from vjepa_nodes.perception.detector import DetectionResult, ObstacleDetector
from vjepa_nodes.perception.preprocessing import FrameError
from vjepa_nodes.ros import detector_parameters
from vjepa_nodes.ros.diagnostics import detector_status, RateMeter
from vjepa_nodes.ros.image_conversions import (
    frame_to_image, heatmap_to_image, image_to_frame, ImageError, stamp_seconds)
from vjepa_nodes.ros.parameters import result
from vjepa_nodes.ros.score_messages import region_scores_to_msg

OUTPUT_QOS = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE)
KEPT_HEADERS = 4096  # recent headers by stamp, to stamp results (minutes of frames)
CHOICES = {'image_reliability': ('best_effort', 'reliable')}
STALL_LIMIT = 60.0  # s of images without an analysed clip before /diagnostics says ERROR


class ObstacleDetectorNode(LifecycleNode):
    """Publish motion scores, regions, obstacle flag, heat map, overlay and diagnostics."""

    def __init__(self, **kwargs) -> None:
        super().__init__('obstacle_detector', **kwargs)
        detector_parameters.declare(self)
        self.add_on_set_parameters_callback(self._on_set_parameters)
        self._detector: ObstacleDetector | None = None
        self._outputs: dict = {}
        self._subscription = None
        self._worker: threading.Thread | None = None
        self._running = threading.Event()
        self._frame_ready = threading.Event()
        self._headers: OrderedDict[float, Header] = OrderedDict()
        self._headers_lock = threading.Lock()
        self._frames, self._clips = RateMeter(), RateMeter()
        self._rejected = 0
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
            for name, choices in CHOICES.items():
                if self.get_parameter(name).value not in choices:
                    raise ValueError(f'parameter {name}: choose one of {", ".join(choices)}')
            if self.get_parameter('image_depth').value < 1:
                raise ValueError('parameter image_depth must be >= 1')
            self._detector = ObstacleDetector(config=detector_parameters.detector_config(self))
        except Exception as error:  # noqa: B902 - rclpy would turn it into a silent ERROR
            self.get_logger().error(f'cannot configure: {error}')
            return TransitionCallbackReturn.FAILURE
        detector = self._detector
        if detector.encoder.weights_source == RANDOM_WEIGHTS_SOURCE:
            self.get_logger().warning('RANDOM WEIGHTS: scores are meaningless; set checkpoint')
        self.get_logger().info(
            f'V-JEPA 2 {detector.config.model_size} on {detector.device} in '
            f'{precision_name(detector.dtype)}, fast path {detector.run_encoder.fast_path.name}, '
            f'weights: {detector.encoder.weights_source}')
        for name, kind in (('motion_score', Float32), ('region_scores', Float32MultiArray),
                           ('obstacle', Bool), ('heatmap', Image), ('debug_image', Image)):
            self._outputs[name] = self.create_lifecycle_publisher(kind, name, OUTPUT_QOS)
        return super().on_configure(state)

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        reliable = self.get_parameter('image_reliability').value == 'reliable'
        qos = QoSProfile(depth=self.get_parameter('image_depth').value,
                         reliability=ReliabilityPolicy.RELIABLE if reliable
                         else ReliabilityPolicy.BEST_EFFORT)
        self._subscription = self.create_subscription(
            Image, 'image', self._on_image, qos, event_callbacks=SubscriptionEventCallbacks(
                incompatible_qos=self._on_incompatible_qos))
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

    def stop_inference(self) -> None:
        """Stop the inference thread (idempotent)."""
        self._running.clear()
        self._frame_ready.set()
        if self._worker is not None:
            self._worker.join()  # at most one clip's inference: never two workers at once
            self._worker = None

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
        with self._headers_lock:  # before the frame can reach a clip
            self._headers[stamp] = msg.header
            while len(self._headers) > KEPT_HEADERS:
                self._headers.popitem(last=False)
        try:
            frame, order = image_to_frame(msg)
            detector.add_frame(frame[..., ::-1] if order == 'bgr' else frame, stamp)
        except (ImageError, FrameError, ValueError) as error:
            self._rejected += 1
            self.get_logger().error(f'rejected image: {error}', throttle_duration_sec=5.0)
            return
        self._frames.add()
        self._frame_ready.set()

    def _on_incompatible_qos(self, info) -> None:
        self.incompatible_qos_events += 1
        ours = self.get_parameter('image_reliability').value
        advice = ('set image_reliability:=best_effort (accepts every camera)' if ours == 'reliable'
                  else 'check the camera publisher QoS')
        self.get_logger().error(
            f'a publisher on {self._subscription.topic_name} offers QoS incompatible with ours '
            f'(policy {info.last_policy_kind}, we ask for {ours}): no images arrive; {advice}',
            throttle_duration_sec=10.0)

    def _work(self) -> None:
        while self._running.is_set():
            self._frame_ready.wait(timeout=0.5)
            self._frame_ready.clear()
            detector = self._detector
            if not self._running.is_set() or detector is None:
                break
            try:
                detection = detector.detect()
            except RuntimeError as error:  # e.g. out of device memory: report, keep serving
                self.get_logger().error(f'inference failed: {error}', throttle_duration_sec=5.0)
                continue
            if detection is not None:
                self._clips.add(detection.latency)
                self._last_clip_at = time.monotonic()
                self._publish(detection)

    def _publish(self, detection: DetectionResult) -> None:
        with self._headers_lock:
            header = self._headers.get(detection.clip_end, Header())
        frame = detection.last_frame
        pub = self._outputs
        pub['obstacle'].publish(Bool(data=detection.obstacle))
        if detection.has_reference:  # no reference: silence, never a false all-clear
            pub['motion_score'].publish(Float32(data=detection.motion_score))
            pub['region_scores'].publish(region_scores_to_msg(detection.region_scores))
        pub['heatmap'].publish(heatmap_to_image(detection.heatmap, header))
        if pub['debug_image'].get_subscription_count() > 0:
            pub['debug_image'].publish(frame_to_image(overlay(frame, detection), 'rgb8', header))

    # parameters and diagnostics ----------------------------------------------------------
    def _on_set_parameters(self, parameters):
        if not any(p.name in detector_parameters.RUNTIME for p in parameters):
            return result('')
        try:
            config = detector_parameters.detector_config(self, parameters)
        except (TypeError, ValueError) as error:
            return result(str(error))
        detector = self._detector
        if detector is not None:  # take effect at once; the model stays loaded
            detector.buffer.stride = config.stride
            detector.scorer.config = config.scoring
            detector.decision.config = config.decision
            detector.config = config
        return result('')

    def _publish_diagnostics(self) -> None:
        detector = self._detector
        problems, warnings = [], []
        if detector is None:
            facts = {'state': 'unconfigured'}
            warnings.append('not configured')
        else:
            counters = detector.counters
            facts = {'device': str(detector.device), 'precision': precision_name(detector.dtype),
                     'fast path': detector.run_encoder.fast_path.name,
                     'model': f'V-JEPA 2 {detector.config.model_size}',
                     'weights source': detector.encoder.weights_source,
                     'dropped frames': str(counters.dropped),
                     'rejected messages': str(self._rejected),
                     'restarts': str(counters.resets)}
            if detector.encoder.weights_source == RANDOM_WEIGHTS_SOURCE:
                warnings.append('random weights: scores are meaningless')
            stalled = time.monotonic() - max(self._last_clip_at or 0.0, self._activated_at)
            if self._subscription is None:
                warnings.append('inactive')
            elif self._frames.age() is None:
                warnings.append('no images received')
            elif stalled > STALL_LIMIT:
                problems.append(f'images arrive but no clip was analysed in {stalled:.0f} s')
        self._diagnostics.publish(detector_status(
            f'{self.get_fully_qualified_name()}: V-JEPA 2 obstacle detector', facts,
            self._frames, self._clips,
            problems, warnings, self.get_clock().now().to_msg()))


def overlay(frame: np.ndarray, detection: DetectionResult) -> np.ndarray:
    """Blend the heat map over an RGB frame, with the scores written on top."""
    heat = np.clip(detection.heatmap * 255, 0, 255).astype(np.uint8)
    colours = cv2.applyColorMap(heat, cv2.COLORMAP_JET)[..., ::-1]
    image = cv2.addWeighted(np.ascontiguousarray(frame), 0.6, colours, 0.4, 0)
    scores = detection.region_scores
    text = (f"{detection.motion_score:.2f}  L{scores['left']:.2f} C{scores['center']:.2f} "
            f"R{scores['right']:.2f}{'  OBSTACLE' if detection.obstacle else ''}")
    cv2.putText(image, text, (5, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1)
    return image


class RosLogHandler(logging.Handler):
    """Forward the core's Python log records (device choice, weights, compilation) to ROS."""

    def __init__(self, ros_logger) -> None:
        super().__init__()
        self._ros_logger = ros_logger

    def emit(self, record: logging.LogRecord) -> None:
        message = self.format(record)
        if record.levelno >= logging.ERROR:
            self._ros_logger.error(message)
        elif record.levelno >= logging.WARNING:
            self._ros_logger.warning(message)
        else:
            self._ros_logger.info(message)


def main(args: list[str] | None = None) -> None:
    rclpy.init(args=args)
    node = ObstacleDetectorNode()
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
            executor.spin()
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    except Exception:  # noqa: B902 - SIGTERM shutting rclpy down mid-spin raises RCLError
        if rclpy.ok():
            raise
    finally:
        node.stop_inference()
        executor.shutdown()
        node.destroy_node()
        rclpy.try_shutdown()
    sys.exit(0 if configured else 1)
