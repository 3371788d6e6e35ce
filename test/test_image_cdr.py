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

"""Serialized Images read in place (image_cdr) against the middleware's own serializer."""

from cdr_bytes import big_endian_image
from hypothesis import assume, given, strategies as st
import numpy as np
import pytest
from vjepa_nodes.image_cdr import ForeignEncapsulation, parse_image
from vjepa_nodes.image_messages import image_to_frame, ImageError

pytestmark = pytest.mark.ros
TEXT = st.text(st.characters(blacklist_categories=('Cs',), blacklist_characters='\x00'),
               max_size=12)  # what a ROS string holds


@st.composite
def images(draw):
    """Draw a sensor_msgs/Image with any field values, pixels or not."""
    from sensor_msgs.msg import Image
    message = Image(height=draw(st.integers(0, 2**32 - 1)), width=draw(st.integers(0, 2**32 - 1)),
                    encoding=draw(st.sampled_from(['rgb8', 'mono8', 'bgra8']) | TEXT),
                    is_bigendian=draw(st.integers(0, 255)), step=draw(st.integers(0, 2**32 - 1)),
                    data=draw(st.binary(max_size=64)))
    message.header.frame_id = draw(TEXT)
    message.header.stamp.sec = draw(st.integers(-2**31, 2**31 - 1))
    message.header.stamp.nanosec = draw(st.integers(0, 2**32 - 1))
    return message


def _fields(image) -> tuple:
    header = image.header
    return (header.stamp.sec, header.stamp.nanosec, header.frame_id, image.height, image.width,
            image.encoding, image.is_bigendian, image.step, bytes(image.data))


@given(message=images())
def test_every_field_reads_as_the_middleware_wrote_it(message):
    from rclpy.serialization import serialize_message
    assert _fields(parse_image(serialize_message(message))) == _fields(message)


@given(height=st.integers(1, 6), width=st.integers(1, 6), padding=st.integers(0, 3),
       frame_id=TEXT, seed=st.integers(0, 2**16))
def test_frames_from_serialized_images_equal_those_from_messages(
        height, width, padding, frame_id, seed):
    from rclpy.serialization import serialize_message
    from sensor_msgs.msg import Image
    step = width * 3 + padding
    data = np.random.default_rng(seed).integers(0, 256, height * step, np.uint8).tobytes()
    message = Image(height=height, width=width, encoding='rgb8', step=step, data=data)
    message.header.frame_id = frame_id  # strings before the pixels move their alignment
    read, _ = image_to_frame(parse_image(serialize_message(message)))
    expected, _ = image_to_frame(message)
    assert np.array_equal(read, expected)


@given(message=images(), cut=st.integers(0, 200))
def test_bytes_cut_short_are_refused_with_the_field_they_end_in(message, cut):
    from rclpy.serialization import serialize_message
    serialized = serialize_message(message)
    assume(cut < len(serialized))
    with pytest.raises(ImageError, match=r'malformed Image message: .*(bytes end inside|shorter)'):
        parse_image(serialized[:cut])


@given(message=images(), at=st.integers(4, 80), noise=st.binary(min_size=1, max_size=8))
def test_any_corrupted_bytes_give_fields_or_a_named_refusal(message, at, noise):
    from rclpy.serialization import serialize_message
    serialized = bytearray(serialize_message(message))
    serialized[at:at + len(noise)] = noise
    try:
        parse_image(bytes(serialized))
    except ImageError as error:
        assert str(error).startswith('malformed Image message: ')


@given(message=images())
def test_big_endian_images_are_left_to_the_middleware(message):
    from rclpy.serialization import deserialize_message
    from sensor_msgs.msg import Image
    serialized = big_endian_image(message)
    with pytest.raises(ForeignEncapsulation, match='encapsulation 0000, not little-endian'):
        parse_image(serialized)
    assert _fields(deserialize_message(serialized, Image)) == _fields(message)  # the fallback


def test_strings_that_are_not_utf8_are_refused():
    with pytest.raises(ImageError, match='frame_id is not UTF-8'):
        parse_image(b'\x00\x01\x00\x00' + bytes(8) + b'\x02\x00\x00\x00\xff\x00')
