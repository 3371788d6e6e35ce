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

from rcl_interfaces.msg import (
    FloatingPointRange, IntegerRange, ParameterDescriptor, ParameterType)
import rclpy
from rclpy.executors import ExternalShutdownException
from rclpy.node import Node
from rclpy.qos import qos_profile_sensor_data, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import Image
from std_msgs.msg import Header

from vjepa_nodes.camera_sources import (
    EndOfFile, fit_frame, open_source, SourceError, SYNTHETIC)
from vjepa_nodes.ros.image_conversions import frame_to_image

RECONNECT_DELAYS = (0.5, 8.0)  # first and longest wait before reopening a failed source, s


def _descriptor(description: str, kind: int, **extra) -> ParameterDescriptor:
    return ParameterDescriptor(description=description, type=kind, read_only=True, **extra)


PARAMETERS = {  # name: (default, descriptor)
    'source': (SYNTHETIC, _descriptor(
        "'synthetic', a webcam index ('0'), a video file path or a stream URL",
        ParameterType.PARAMETER_STRING)),
    'fps': (15.0, _descriptor('frames per second to publish', ParameterType.PARAMETER_DOUBLE,
                              floating_point_range=[FloatingPointRange(
                                  from_value=0.1, to_value=240.0, step=0.0)])),
    'width': (640, _descriptor('published image width, pixels', ParameterType.PARAMETER_INTEGER,
                               integer_range=[IntegerRange(from_value=16, to_value=8192,
                                                           step=1)])),
    'height': (480, _descriptor('published image height, pixels',
                                ParameterType.PARAMETER_INTEGER,
                                integer_range=[IntegerRange(from_value=16, to_value=8192,
                                                            step=1)])),
    'frame_id': ('camera', _descriptor('header.frame_id of every image',
                                       ParameterType.PARAMETER_STRING)),
    'encoding': ('rgb8', _descriptor("'rgb8' or 'bgr8'", ParameterType.PARAMETER_STRING,
                                     additional_constraints='one of: rgb8, bgr8')),
    'loop': (True, _descriptor('restart a video file at its end',
                               ParameterType.PARAMETER_BOOL)),
    'seed': (0, _descriptor('random seed of the synthetic scene',
                            ParameterType.PARAMETER_INTEGER)),
    'reliability': ('best_effort', _descriptor(
        "publisher QoS reliability: 'best_effort' (sensor data) or 'reliable'",
        ParameterType.PARAMETER_STRING, additional_constraints='one of: best_effort, reliable')),
}
CHOICES = {'encoding': ('rgb8', 'bgr8'), 'reliability': ('best_effort', 'reliable')}


class CameraNode(Node):
    """Publish camera frames on `image` at a fixed rate; reconnect to a failed source."""

    _source = None  # set before __init__ can fail, since rclpy destroys half-built nodes too

    def __init__(self, **kwargs) -> None:
        super().__init__('camera', **kwargs)
        for name, (default, descriptor) in PARAMETERS.items():
            self.declare_parameter(name, default, descriptor)
        self._settings = {name: self.get_parameter(name).value for name in PARAMETERS}
        for name, choices in CHOICES.items():
            if self._settings[name] not in choices:
                raise ValueError(f'parameter {name}={self._settings[name]!r}: choose one of '
                                 f'{", ".join(choices)}')
        qos = qos_profile_sensor_data if self._settings['reliability'] == 'best_effort' else \
            QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE)
        self._publisher = self.create_publisher(Image, 'image', qos)
        self._retry_at = 0.0
        self._delay = RECONNECT_DELAYS[0]
        self._failed = False
        self._timer = self.create_timer(1.0 / self._settings['fps'], self._on_timer)

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
        frame = fit_frame(frame, s['width'], s['height'])
        if (self._source.channel_order == 'rgb') != (s['encoding'] == 'rgb8'):
            frame = frame[..., ::-1]
        header = Header(stamp=self.get_clock().now().to_msg(), frame_id=s['frame_id'])
        self._publisher.publish(frame_to_image(frame, s['encoding'], header))

    def _open(self) -> bool:
        now = time.monotonic()
        if now < self._retry_at:
            return False
        s = self._settings
        try:
            self._source = open_source(s['source'], s['width'], s['height'], s['fps'],
                                       s['loop'], s['seed'])
        except SourceError as error:
            self._fail(f'{error}')
            return False
        if self._failed:
            self.get_logger().info(f"reconnected to camera source {s['source']!r}")
        else:
            self.get_logger().info(f"publishing {s['source']!r} as {s['width']}x{s['height']} "
                                   f"{s['encoding']} at {s['fps']} Hz")
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
    rclpy.init(args=args)
    node = None
    try:
        node = CameraNode()
        rclpy.spin(node)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    except ValueError as error:  # a bad parameter value: say which and why, then exit
        rclpy.logging.get_logger('camera').fatal(str(error))
        raise SystemExit(2) from error
    except Exception:  # noqa: B902 - SIGTERM shutting rclpy down mid-spin raises RCLError
        if rclpy.ok():
            raise
    finally:
        if node is not None:
            node.destroy_node()
        rclpy.try_shutdown()
