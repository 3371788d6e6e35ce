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

"""camera_node: publish sensor_msgs/Image from a webcam, video file, stream or synthetic scene."""

import time

from rclpy.node import Node
from rclpy.qos import qos_profile_sensor_data, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import Image
from std_msgs.msg import Header

from vjepa_nodes.camera_sources import EndOfFile, fit_frame, open_source, SourceError
from vjepa_nodes.ros import shutdown
from vjepa_nodes.ros.image_conversions import frame_to_image
from vjepa_nodes.ros.node_settings import CameraSettings
from vjepa_nodes.ros.parameters import declare_settings, settings_from_parameters

RECONNECT_DELAYS = (0.5, 8.0)  # first and longest wait before reopening a failed source, s


class CameraNode(Node):
    """Publish camera frames on `image` at a fixed rate; reconnect to a failed source."""

    _source = None  # set before __init__ can fail, since rclpy destroys half-built nodes too

    def __init__(self, **kwargs) -> None:
        super().__init__('camera', **kwargs)
        declare_settings(self, 'camera')
        self._settings = settings_from_parameters(self, CameraSettings())
        qos = qos_profile_sensor_data if self._settings.reliability == 'best_effort' else \
            QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE)
        self._publisher = self.create_publisher(Image, 'image', qos)
        self._retry_at = 0.0
        self._delay = RECONNECT_DELAYS[0]
        self._failed = False
        self._timer = self.create_timer(1.0 / self._settings.fps, self._on_timer)

    def _on_timer(self) -> None:
        if self._source is None and not self._open():
            return
        try:
            frame = self._source.read()
        except EndOfFile as error:
            self.get_logger().info(f'{error}; not looping (loop:=false), publishing stopped')
            self._timer.cancel()
            return
        except SourceError as error:
            self._fail(f'{error}')
            return
        self._delay = RECONNECT_DELAYS[0]  # a frame arrived: the next failure starts afresh
        s = self._settings
        frame = fit_frame(frame, s.width, s.height)
        if (self._source.channel_order == 'rgb') != (s.encoding == 'rgb8'):
            frame = frame[..., ::-1]
        header = Header(stamp=self.get_clock().now().to_msg(), frame_id=s.frame_id)
        self._publisher.publish(frame_to_image(frame, s.encoding, header))

    def _open(self) -> bool:
        now = time.monotonic()
        if now < self._retry_at:
            return False
        s = self._settings
        try:
            self._source = open_source(s.source, s.width, s.height, s.fps, s.loop, s.seed)
        except SourceError as error:
            self._fail(f'{error}')
            return False
        if self._failed:
            self.get_logger().info(f'reconnected to camera source {s.source!r}')
        else:
            self.get_logger().info(f'publishing {s.source!r} as {s.width}x{s.height} '
                                   f'{s.encoding} at {s.fps} Hz')
        self._failed = False
        return True

    def _fail(self, reason: str) -> None:
        if self._source is not None:
            self._source.close()
            self._source = None
        self.get_logger().warning(f'{reason}; reconnecting in {self._delay:.1f} s')
        self._retry_at = time.monotonic() + self._delay
        self._delay = min(2 * self._delay, RECONNECT_DELAYS[1])
        self._failed = True

    def destroy_node(self) -> None:
        if self._source is not None:
            self._source.close()
        super().destroy_node()


def main(args: list[str] | None = None) -> None:
    request = shutdown.init(args)
    shutdown.run(shutdown.create_node(CameraNode, 'camera'), request)
