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
A serialized sensor_msgs/Image read in place: its fields, with the pixels as a view.

Why: rclpy turns an Image into a Python message by copying its pixels into an array.array,
one image at a time on the executor's thread; eight cameras published on one tick then queue
behind each other (docs/PERFORMANCE.md, "intake"). Read from the serialized bytes, a 480x640
image costs a few struct reads and no further copy (about 20 against 250 us). ROS-free: the
result has the message's field names, so image_messages.image_to_frame and stamp_seconds take
it as they take a message.

Little-endian plain CDR (XCDR1), as rmw_fastrtps, rmw_cyclonedds and rmw_zenoh write it on
every host ROS 2 runs on: a 4-byte encapsulation header, then the fields, each aligned to its
size from the end of that header. Any other encapsulation (big-endian, XCDR2) raises
ForeignEncapsulation, for the caller to deserialize it with the middleware's own code.
"""

from dataclasses import dataclass
import struct

from vjepa_nodes.image_messages import ImageError

CDR_LE = b'\x00\x01'  # the encapsulation read here


class ForeignEncapsulation(ImageError):
    """Serialized bytes in an encapsulation other than plain CDR: not read here."""


@dataclass(frozen=True)
class CdrStamp:
    sec: int
    nanosec: int


@dataclass(frozen=True)
class CdrHeader:
    stamp: CdrStamp
    frame_id: str


@dataclass(frozen=True)
class CdrImage:
    """The fields of a sensor_msgs/Image; `data` a view into the serialized bytes."""

    header: CdrHeader
    height: int
    width: int
    encoding: str
    is_bigendian: int
    step: int
    data: memoryview


class _Reader:
    """Reads CDR fields in order; a field the bytes end inside raises ImageError."""

    def __init__(self, serialized: bytes) -> None:
        self._bytes, self._at = memoryview(serialized), 4

    def _take(self, size: int, field: str) -> memoryview:
        if self._at + size > len(self._bytes):
            raise ImageError(f'malformed Image message: its {len(self._bytes)} bytes end inside '
                             f'{field} (needs {self._at + size})')
        taken = self._bytes[self._at:self._at + size]
        self._at += size
        return taken

    def number(self, kind: str, field: str) -> int:
        size = struct.calcsize(kind)
        self._at += -(self._at - 4) % size  # aligned from the end of the encapsulation header
        return struct.unpack('<' + kind, self._take(size, field))[0]

    def sequence(self, field: str) -> memoryview:
        return self._take(self.number('I', f'the length of {field}'), field)

    def string(self, field: str) -> str:
        text = bytes(self.sequence(field))
        try:
            return text.rstrip(b'\x00').decode()  # the length counts the terminating NUL
        except UnicodeDecodeError:
            raise ImageError(f'malformed Image message: {field} is not UTF-8') from None


def parse_image(serialized: bytes) -> CdrImage:
    """Return the fields of a serialized Image; raise ImageError if the bytes are malformed."""
    if len(serialized) < 4:
        raise ImageError(f'malformed Image message: {len(serialized)} bytes, shorter than the '
                         'CDR encapsulation header')
    if serialized[:2] != CDR_LE:
        raise ForeignEncapsulation(f'serialized Image in encapsulation {serialized[:2].hex()}, '
                                   'not little-endian plain CDR')
    read = _Reader(serialized)
    stamp = CdrStamp(read.number('i', 'header.stamp.sec'),
                     read.number('I', 'header.stamp.nanosec'))
    header = CdrHeader(stamp, read.string('header.frame_id'))
    return CdrImage(header, height=read.number('I', 'height'),
                    width=read.number('I', 'width'), encoding=read.string('encoding'),
                    is_bigendian=read.number('B', 'is_bigendian'),
                    step=read.number('I', 'step'), data=read.sequence('data'))
