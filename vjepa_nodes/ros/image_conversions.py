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
sensor_msgs/Image <-> numpy, with every malformed message rejected for a stated reason.

Accepted for detection: rgb8, bgr8, rgba8, bgra8 (alpha dropped) and mono8 (grey repeated into
three channels). Rows may be padded (step > width * channels).
"""

import sys

import numpy as np
from sensor_msgs.msg import Image
from std_msgs.msg import Header

# encoding -> (channel order of the colour channels, bytes per pixel)
FRAME_ENCODINGS: dict[str, tuple[str, int]] = {
    'rgb8': ('rgb', 3), 'bgr8': ('bgr', 3), 'rgba8': ('rgb', 4), 'bgra8': ('bgr', 4),
    'mono8': ('rgb', 1),
}
PUBLISH_ENCODINGS: dict[str, int] = {'rgb8': 3, 'bgr8': 3, 'mono8': 1}  # -> channels


class ImageError(ValueError):
    """A sensor_msgs/Image that cannot be turned into a frame."""


def image_to_frame(msg: Image) -> tuple[np.ndarray, str]:
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


def frame_to_image(frame: np.ndarray, encoding: str, header: Header) -> Image:
    """Pack an H x W x C uint8 frame (rgb8, bgr8: C = 3; mono8: C = 1 or 2-D) into an Image."""
    if encoding not in PUBLISH_ENCODINGS:
        raise ValueError(f"cannot publish encoding '{encoding}'; use one of "
                         f'{", ".join(PUBLISH_ENCODINGS)}')
    channels = PUBLISH_ENCODINGS[encoding]
    pixels = frame.reshape(frame.shape[0], frame.shape[1], -1)
    if frame.dtype != np.uint8 or pixels.shape[2] != channels:
        raise ValueError(f'a {encoding} image needs {channels} uint8 channels, got '
                         f'{pixels.shape[2]} of {frame.dtype}')
    return Image(header=header, height=pixels.shape[0], width=pixels.shape[1],
                 encoding=encoding, is_bigendian=0, step=pixels.shape[1] * channels,
                 data=np.ascontiguousarray(pixels).tobytes())


def heatmap_to_image(heatmap: np.ndarray, header: Header) -> Image:
    """Pack an H x W float map into a 32FC1 Image carrying `header`."""
    values = np.ascontiguousarray(heatmap, dtype=np.float32)
    return Image(header=header, height=values.shape[0], width=values.shape[1],
                 encoding='32FC1', is_bigendian=int(sys.byteorder == 'big'),
                 step=values.shape[1] * 4, data=values.tobytes())


def stamp_seconds(header: Header) -> float:
    """Return a header's stamp in seconds."""
    return header.stamp.sec + header.stamp.nanosec * 1e-9
