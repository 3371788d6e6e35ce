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

"""numpy -> sensor_msgs/Image (frames, heat maps); the reverse is in image_messages."""

import numpy as np
from sensor_msgs.msg import Image
from std_msgs.msg import Header

from vjepa_nodes.perception.message_layout import heatmap_fields

PUBLISH_ENCODINGS: dict[str, int] = {'rgb8': 3, 'bgr8': 3, 'mono8': 1}  # -> channels


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
    fields = heatmap_fields(heatmap)
    return Image(header=header, **{**fields, 'data': fields['data'].tobytes()})
