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
Camera messages -> numpy frames, every malformed message rejected for a stated reason.

ROS-free: works on any object with the fields of sensor_msgs/Image or CompressedImage (rclpy's
messages, or those rosbags reads from a recording), and keeps their headers by stamp.
- Image: rgb8, bgr8, rgba8, bgra8 (alpha dropped) and mono8 (grey repeated into three
  channels); rows may be padded (step > width * channels).
- CompressedImage: JPEG or PNG, as image_transport's `compressed` plugin names them in
  `format` ('jpeg', 'png', 'rgb8; jpeg compressed bgr8', ...), decoded with OpenCV.
"""

from collections import OrderedDict
import os
import threading
from typing import Any, Callable

import numpy as np

# Decoding stops at the detector's own size limit, not at OpenCV's default of 2^30 pixels (3 GB
# of pixels from one crafted message). Read when OpenCV first decodes, so set before that.
os.environ.setdefault('OPENCV_IO_MAX_IMAGE_PIXELS', str(8192 * 8192))

FRAME_ENCODINGS: dict[str, tuple[str, int]] = {
    'rgb8': ('rgb', 3), 'bgr8': ('bgr', 3), 'rgba8': ('rgb', 4), 'bgra8': ('bgr', 4),
    'mono8': ('rgb', 1),
}
# Format word -> the bytes its data starts with.
COMPRESSED_FORMATS: dict[str, bytes] = {'jpeg': b'\xff\xd8\xff', 'jpg': b'\xff\xd8\xff',
                                        'png': b'\x89PNG\r\n\x1a\n'}


KEPT_STAMPS = 4096  # recent headers by stamp, to stamp results (minutes of frames)


class ImageError(ValueError):
    """A camera message that cannot be turned into a frame."""


def stamp_seconds(header: Any) -> float:
    """Return a header's stamp in seconds."""
    return header.stamp.sec + header.stamp.nanosec * 1e-9


def rgb_frame(convert: Callable, msg: Any) -> np.ndarray:
    """Return a message as an H x W x 3 RGB frame, by image_to_frame or compressed_to_frame."""
    frame, order = convert(msg)
    return frame[..., ::-1] if order == 'bgr' else frame


class StampBook:
    """
    A value for each recent image by its stamp, e.g. its header for the results of its clips.

    `empty` makes the value of an unknown stamp (for a header: stamp 0, never fresh).
    """

    def __init__(self, empty: Callable[[], Any]) -> None:
        self._empty = empty
        self._values: OrderedDict[float, Any] = OrderedDict()
        self._lock = threading.Lock()  # the image callback writes, the worker reads

    def add(self, stamp: float, value: Any) -> None:
        with self._lock:
            self._values[stamp] = value
            while len(self._values) > KEPT_STAMPS:
                self._values.popitem(last=False)

    def get(self, stamp: float) -> Any:
        """Return the value of the image stamped `stamp`; an empty one if unknown."""
        with self._lock:
            return self._values[stamp] if stamp in self._values else self._empty()

    def newest(self) -> Any:
        with self._lock:
            return next(reversed(self._values.values())) if self._values else self._empty()


def image_to_frame(msg) -> tuple[np.ndarray, str]:
    """Return (H x W x 3 uint8 frame, 'rgb' or 'bgr') for an Image; raise ImageError if bad."""
    if msg.encoding not in FRAME_ENCODINGS:
        raise ImageError(f"unsupported encoding '{msg.encoding}'; use one of "
                         f'{", ".join(FRAME_ENCODINGS)}')
    order, channels = FRAME_ENCODINGS[msg.encoding]
    height, width, step = msg.height, msg.width, msg.step
    if height == 0 or width == 0:
        raise ImageError(f'empty image: {width}x{height}')
    row_bytes = width * channels
    if step < row_bytes:
        raise ImageError(f'step {step} is shorter than a row of {width} {msg.encoding} pixels '
                         f'({row_bytes} bytes)')
    if len(msg.data) < step * height:
        raise ImageError(f'data has {len(msg.data)} bytes, step x height needs {step * height}')
    rows = np.frombuffer(msg.data, dtype=np.uint8, count=step * height).reshape(height, step)
    pixels = rows[:, :row_bytes].reshape(height, width, channels)
    if channels == 1:
        return np.repeat(pixels, 3, axis=2), order
    return np.ascontiguousarray(pixels[..., :3]), order


def compressed_to_frame(msg) -> tuple[np.ndarray, str]:
    """Return (H x W x 3 uint8 frame, 'bgr') for a CompressedImage; raise ImageError if bad."""
    import cv2  # here: the avoidance node reads stamps from this module and needs no OpenCV
    words = msg.format.lower().replace(';', ' ').split()
    data = bytes(msg.data)
    if 'compresseddepth' in words:
        raise ImageError(f"'{msg.format}' is a depth image, not a camera image")
    if not words:  # some drivers leave format empty: go by the data's first bytes
        words = [name for name, magic in COMPRESSED_FORMATS.items() if data.startswith(magic)]
    kind = next((word for word in words if word in COMPRESSED_FORMATS), None)
    if kind is None:
        raise ImageError(f"unsupported compressed format '{msg.format}'; use jpeg or png")
    if not data.startswith(COMPRESSED_FORMATS[kind]):
        raise ImageError(f"format '{msg.format}' but the {len(data)} bytes of data are not "
                         f'{kind.upper()}')
    try:
        frame = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)  # grey, alpha: BGR
    except cv2.error as error:  # e.g. a header claiming more pixels than allowed
        raise ImageError(f'cannot decode the {kind.upper()} data ({len(data)} bytes): '
                         f'{str(error).strip().splitlines()[-1]}') from None
    if frame is None:
        raise ImageError(f'cannot decode the {kind.upper()} data ({len(data)} bytes): '
                         'truncated or corrupt')
    return frame, 'bgr'
