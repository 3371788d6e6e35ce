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

"""A sensor_msgs/Image as a big-endian host would serialize it (no rmw writes one here)."""

import struct


def big_endian_image(message) -> bytes:
    """Return `message` (an Image) as big-endian plain CDR, encapsulation 00 00."""
    out = bytearray(4)

    def number(kind: str, value: int) -> None:
        size = struct.calcsize(kind)
        out.extend(bytes(-(len(out) - 4) % size))  # aligned from the end of the encapsulation
        out.extend(struct.pack('>' + kind, value))

    def sequence(data: bytes) -> None:
        number('I', len(data))
        out.extend(data)
    number('i', message.header.stamp.sec)
    number('I', message.header.stamp.nanosec)
    sequence(message.header.frame_id.encode() + b'\x00')
    number('I', message.height)
    number('I', message.width)
    sequence(message.encoding.encode() + b'\x00')
    number('B', message.is_bigendian)
    number('I', message.step)
    sequence(bytes(message.data))
    return bytes(out)
