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
One camera of obstacle_detector: its image subscription, checks, outputs and counters.

A camera named `front` reads `front/image` (or `front/image/compressed`) and publishes
`front/motion_score`, `front/heatmap`, ...; the unnamed camera of a one-camera node uses the
bare names. Images are checked here (stamp, format) and handed to the detector by `sink`.
"""

import time
from typing import Callable

from builtin_interfaces.msg import Time
from diagnostic_msgs.msg import DiagnosticArray
from rclpy.lifecycle import LifecycleNode
from rclpy.qos import QoSPolicyKind, QoSProfile, ReliabilityPolicy
from rclpy.serialization import deserialize_message
from sensor_msgs.msg import CompressedImage, Image
from std_msgs.msg import Bool, Float32, Float32MultiArray, Header

from vjepa_nodes.freshness import stamp_problem
from vjepa_nodes.image_cdr import ForeignEncapsulation, parse_image
from vjepa_nodes.image_messages import (
    compressed_to_frame, image_to_frame, ImageError, rgb_frame, stamp_seconds, StampBook)
from vjepa_nodes.perception.camera_stream import DetectionResult
from vjepa_nodes.perception.message_layout import surprise_values
from vjepa_nodes.perception.preprocessing import FrameError
from vjepa_nodes.ros.detector_outputs import overlay
from vjepa_nodes.ros.diagnostics import RateMeter
from vjepa_nodes.ros.hearing import HearingCheck, SubscriptionEventCallbacks
from vjepa_nodes.ros.image_conversions import frame_to_image, heatmap_to_image
from vjepa_nodes.ros.node_settings import DetectorNodeSettings
from vjepa_nodes.ros.score_messages import perception_to_msg, region_scores_to_msg

OUTPUT_QOS = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE)
OUTPUTS = {'motion_score': Float32, 'region_scores': Float32MultiArray, 'obstacle': Bool,
           'perception': DiagnosticArray, 'heatmap': Image, 'debug_image': Image}
SURPRISE_OUTPUTS = {'surprise_score': Float32, 'surprise_heatmap': Image}  # surprise on only
CLOCK_ADVICE = ("image stamps must be on this node's clock: sync the camera's and this "
                "machine's clocks (e.g. chrony), and replay recordings with use_sim_time:=true "
                'and `ros2 bag play --clock`')
# (frame, stamp, camera) -> None; raises FrameError or ValueError for a frame it refuses.
FrameSink = Callable[..., None]


def image_qos(settings: DetectorNodeSettings, best_effort_fallback: bool = False) -> QoSProfile:
    """Return the QoS of an image subscription."""
    best_effort = settings.image_reliability == 'best_effort' or best_effort_fallback
    reliability = ReliabilityPolicy.BEST_EFFORT if best_effort else ReliabilityPolicy.RELIABLE
    return QoSProfile(depth=settings.image_depth, reliability=reliability)


class CameraIO:
    """Subscribe one camera, check and convert its images, publish its results."""

    def __init__(self, node: LifecycleNode, name: str, transport: str,
                 settings: Callable[[], DetectorNodeSettings], sink: FrameSink,
                 report: Callable[[], None]) -> None:
        """`report` publishes diagnostics at once (a publisher that cannot connect)."""
        self.node, self.name, self.transport = node, name, transport
        self._settings, self._sink = settings, sink  # the node's current settings
        self._prefix = f'{name}/' if name else ''
        self.outputs: dict = {}
        self.subscription = None
        self.best_effort_fallback = False  # image_reliability auto met a best-effort camera
        self._resubscribe_timer = None
        self._kind = CompressedImage if transport == 'compressed' else Image
        self.hearing = HearingCheck(
            node, self.image_topic, self._kind, self._accepted_qos, report,
            qos_advice=', or set image_reliability:=auto to take best-effort cameras too')
        self.headers = StampBook(Header)  # as they came: a Header, or a CdrHeader (raw)
        self.receive_lags = StampBook(float)  # s from an image's stamp to its arrival here
        self.frames, self.clips, self.stale, self.failures = (RateMeter(), RateMeter(),
                                                              RateMeter(), RateMeter())
        self.rejected = self.incompatible_qos_events = 0
        self.stale_reason = self.failure_reason = ''  # the latest of each, for diagnostics
        self.last_image_at: float | None = None  # monotonic arrival of the last good image
        self.last_clip_at: float | None = None  # monotonic end of its last analysed clip

    @property
    def image_topic(self) -> str:
        return self._prefix + ('image/compressed' if self.transport == 'compressed' else 'image')

    # outputs -----------------------------------------------------------------------------
    def create_outputs(self, surprise: bool) -> None:
        for name, kind in {**OUTPUTS, **(SURPRISE_OUTPUTS if surprise else {})}.items():
            self.outputs[name] = self.node.create_lifecycle_publisher(
                kind, self._prefix + name, OUTPUT_QOS)

    def destroy_outputs(self) -> None:
        for publisher in self.outputs.values():
            self.node.destroy_lifecycle_publisher(publisher)
        self.outputs.clear()

    def publish_decision(self, detection: DetectionResult) -> None:
        """
        Publish what the robot acts on: the flag, the scores and `perception` (small messages).

        `perception` is stamped with the header of the clip's newest image.
        """
        header = _ros_header(self.headers.get(detection.clip_end))
        pub = self.outputs
        pub['obstacle'].publish(Bool(data=detection.obstacle))
        # No evidence (no reference clip): silence, never a false all-clear.
        if detection.motion_reference:
            pub['motion_score'].publish(Float32(data=detection.motion_score))
        if detection.has_reference:
            pub['region_scores'].publish(region_scores_to_msg(detection.region_scores))
        surprise = surprise_values(detection.surprise_score, detection.surprise_regions)
        timings = {'receive': self.receive_lags.get(detection.clip_end), **detection.stages}
        pub['perception'].publish(perception_to_msg(
            header, detection.region_scores, detection.motion_score, detection.obstacle,
            detection.has_reference, detection.problem, surprise, timings))
        if surprise and 'surprise_score' in pub:
            pub['surprise_score'].publish(Float32(data=detection.surprise_score))

    def publish_images(self, detection: DetectionResult) -> None:
        """Publish the heat maps (camera-sized float images) and, when watched, the overlay."""
        header = _ros_header(self.headers.get(detection.clip_end))
        pub = self.outputs
        pub['heatmap'].publish(heatmap_to_image(detection.heatmap, header))
        if detection.surprise_heatmap is not None and 'surprise_heatmap' in pub:
            pub['surprise_heatmap'].publish(heatmap_to_image(detection.surprise_heatmap, header))
        if pub['debug_image'].get_subscription_count() > 0:
            pub['debug_image'].publish(
                frame_to_image(overlay(detection.last_frame, detection), 'rgb8', header))

    def publish_failure(self, error: Exception) -> None:
        """Say at once that this camera's clip failed: a perception the avoidance stops on."""
        self.failures.add()
        self.failure_reason = f'inference failed: {type(error).__name__}: {error}'
        self.node.get_logger().error(
            f'{self._label()}{self.failure_reason}; skipping this clip',
            throttle_duration_sec=5.0)
        self.outputs['perception'].publish(perception_to_msg(
            _ros_header(self.headers.newest()), {'left': 0.0, 'center': 0.0, 'right': 0.0},
            0.0, False, False, self.failure_reason))

    # images ------------------------------------------------------------------------------
    def _accepted_qos(self) -> list[QoSProfile]:
        """Return the image subscription's QoS, and with auto the best effort it may take."""
        settings = self._settings()
        return [image_qos(settings, self.best_effort_fallback),
                *([image_qos(settings, True)] if settings.image_reliability == 'auto' else [])]

    def subscribe(self) -> None:
        # Raw images come serialized and are read in place (image_cdr: no per-image copy).
        self.subscription = self.node.create_subscription(
            self._kind, self.image_topic, self._on_message,
            image_qos(self._settings(), self.best_effort_fallback),
            event_callbacks=SubscriptionEventCallbacks(
                incompatible_qos=self._on_incompatible_qos),
            raw=self._kind is Image)

    def unsubscribe(self) -> None:
        if self.subscription is not None:
            self.node.destroy_subscription(self.subscription)
            self.subscription = None
            self.hearing.problems = []  # found again once subscribed

    def _on_message(self, msg) -> None:
        if self._kind is Image:
            try:
                msg = _read_image(msg)
            except ImageError as error:
                self._reject(error)
                return
        stamp = stamp_seconds(msg.header)
        settings = self._settings()
        now = self.node.get_clock().now().nanoseconds * 1e-9
        problem = stamp_problem('images', stamp, now, settings.max_image_age,
                                settings.stamp_tolerance)
        if problem:
            self.stale.add()
            self.stale_reason = f'dropping images: {problem}'
            self.node.get_logger().error(f'{self._label()}dropping images: {problem}; '
                                         f'{CLOCK_ADVICE}', throttle_duration_sec=5.0)
            return
        try:
            frame = rgb_frame(compressed_to_frame if self.transport == 'compressed'
                              else image_to_frame, msg)
            self.headers.add(stamp, msg.header)  # before the frame can reach a clip
            self.receive_lags.add(stamp, now - stamp)
            self._sink(frame, stamp, self.name)
        except (ImageError, FrameError, ValueError) as error:
            self._reject(error)
            return
        self.frames.add()
        self.last_image_at = time.monotonic()

    def _reject(self, error: Exception) -> None:
        self.rejected += 1
        self.node.get_logger().error(f'{self._label()}rejected image: {error}',
                                     throttle_duration_sec=5.0)

    def _on_incompatible_qos(self, info) -> None:
        self.incompatible_qos_events += 1
        topic = self.subscription.topic_name
        ours = self._settings().image_reliability
        if (ours == 'auto' and not self.best_effort_fallback
                and int(info.last_policy_kind) == QoSPolicyKind.RELIABILITY):
            self.best_effort_fallback = True
            self.node.get_logger().warning(
                f'a best-effort camera publishes on {topic}: subscribing best effort (large '
                'images may be lost; a reliable camera publisher delivers them all)')
            # Not from inside the subscription's own event callback: on the next spin.
            self._resubscribe_timer = self.node.create_timer(0.0, self._on_resubscribe)
            return
        self.hearing.check()  # logs what cannot connect, and why, and reports it

    def _on_resubscribe(self) -> None:
        self.node.destroy_timer(self._resubscribe_timer)  # once
        if self.subscription is not None:  # still active
            self.unsubscribe()
            self.subscribe()

    def _label(self) -> str:
        return f'camera {self.name}: ' if self.name else ''


def _read_image(serialized: bytes):
    """Return a serialized Image's fields (a CdrImage, or an Image the middleware decoded)."""
    try:
        return parse_image(serialized)
    except ForeignEncapsulation:  # not plain CDR: the middleware's own code reads it
        try:
            return deserialize_message(serialized, Image)
        except Exception as error:  # noqa: B902 - whatever the middleware raises on bad bytes
            raise ImageError(f'malformed Image message: {error}') from None


def _ros_header(header) -> Header:
    """Return a std_msgs Header for a kept header (made here, once per clip, not per image)."""
    if isinstance(header, Header):
        return header
    return Header(stamp=Time(sec=header.stamp.sec, nanosec=header.stamp.nanosec),
                  frame_id=header.frame_id)
