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

"""Image and CompressedImage conversions: every accepted form, and each malformed message."""

import cv2
from hypothesis import given, settings, strategies as st
import numpy as np
import pytest
from vjepa_nodes.image_messages import (
    compressed_to_frame, image_to_frame, ImageError, stamp_seconds)

pytestmark = pytest.mark.ros


@pytest.fixture(scope='module')
def ros():
    """Import the message modules only where ROS is installed (the test is marked ros)."""
    from sensor_msgs.msg import Image
    from std_msgs.msg import Header
    from vjepa_nodes.ros import image_conversions
    return Image, Header, image_conversions


def _message(Image, pixels: np.ndarray, encoding: str, padding: int = 0):
    height, width = pixels.shape[:2]
    rows = pixels.reshape(height, -1)
    padded = np.concatenate([rows, np.full((height, padding), 7, np.uint8)], axis=1)
    return Image(height=height, width=width, encoding=encoding, step=padded.shape[1],
                 data=padded.tobytes())


@given(height=st.integers(1, 9), width=st.integers(1, 9), padding=st.integers(0, 5),
       encoding=st.sampled_from(['rgb8', 'bgr8', 'rgba8', 'bgra8', 'mono8']),
       seed=st.integers(0, 2**16))
def test_every_accepted_encoding_parses_with_any_row_padding(
        ros, height, width, padding, encoding, seed):
    Image, _, conversions = ros
    channels = {'mono8': 1, 'rgb8': 3, 'bgr8': 3}.get(encoding, 4)
    pixels = np.random.default_rng(seed).integers(0, 256, (height, width, channels), np.uint8)
    frame, order = image_to_frame(_message(Image, pixels, encoding, padding))
    assert frame.shape == (height, width, 3) and frame.dtype == np.uint8
    assert order == ('bgr' if encoding.startswith('bgr') else 'rgb')
    expected = np.repeat(pixels, 3, axis=2) if channels == 1 else pixels[..., :3]
    assert np.array_equal(frame, expected)


@pytest.mark.parametrize(('change', 'reason'), [
    ({'encoding': 'yuv422'}, "unsupported encoding 'yuv422'; use one of rgb8, bgr8"),
    ({'encoding': '16UC1'}, "unsupported encoding '16UC1'"),
    ({'height': 0}, 'empty image: 4x0'),
    ({'width': 0}, 'empty image: 0x3'),
    ({'step': 11}, 'step 11 is shorter than a row of 4 rgb8 pixels (12 bytes)'),
    ({'data': bytes(35)}, 'data has 35 bytes, step x height needs 36'),
])
def test_malformed_images_are_rejected_with_the_reason(ros, change, reason):
    Image, _, conversions = ros
    message = _message(Image, np.zeros((3, 4, 3), np.uint8), 'rgb8')
    for field, value in change.items():
        setattr(message, field, value)
    with pytest.raises(ImageError) as error:
        image_to_frame(message)
    assert reason in str(error.value)


def test_frames_and_heatmaps_pack_into_images(ros):
    Image, Header, conversions = ros
    header = Header(frame_id='camera')
    header.stamp.sec, header.stamp.nanosec = 12, 500_000_000
    frame = np.random.default_rng(0).integers(0, 256, (5, 7, 3), np.uint8)
    message = conversions.frame_to_image(frame, 'bgr8', header)
    assert (message.encoding, message.step, message.header.frame_id) == ('bgr8', 21, 'camera')
    back, order = image_to_frame(message)
    assert order == 'bgr' and np.array_equal(back, frame)
    heat = np.linspace(0, 1, 35, dtype=np.float32).reshape(5, 7)
    packed = conversions.heatmap_to_image(heat, header)
    assert (packed.encoding, packed.height, packed.width, packed.step) == ('32FC1', 5, 7, 28)
    assert np.array_equal(np.frombuffer(packed.data, np.float32).reshape(5, 7), heat)
    assert stamp_seconds(packed.header) == 12.5
    with pytest.raises(ValueError, match="cannot publish encoding 'rgba8'"):
        conversions.frame_to_image(frame, 'rgba8', header)
    with pytest.raises(ValueError, match='a mono8 image needs 1 uint8 channels, got 3'):
        conversions.frame_to_image(frame, 'mono8', header)


def test_the_debug_overlay_tints_only_where_the_image_changed():
    from vjepa_nodes.perception.detector import DetectionResult
    from vjepa_nodes.perception.preprocessing import ClipGeometry
    from vjepa_nodes.ros.detector_outputs import overlay
    frame = np.full((64, 96, 3), 120, np.uint8)
    motion_map = np.zeros((4, 6), np.float32)
    motion_map[2:, 4:] = 1.0  # the lower right changed clearly
    geometry = ClipGeometry((64, 96), (64, 96), (0, 0, 64, 96), (64, 96))
    result = DetectionResult(
        motion_score=0.2, region_scores={'left': 0.0, 'center': 0.0, 'right': 0.6},
        motion_map=motion_map, obstacle=True, has_reference=True, features_finite=True,
        features=None, clip_start=0.0, clip_end=1.0, latency=0.1, geometry=geometry,
        last_frame=frame)
    image = overlay(frame, result)
    assert image.shape == frame.shape and image.dtype == np.uint8
    # Unchanged, below the text line and clear of the map's bilinear edge: as the camera saw it.
    assert (image[30:, :48] == 120).all()
    assert np.abs(image[48:, 72:].astype(int) - 120).max() > 50  # changed: tinted


def _compressed(kind: str, data: bytes):
    from sensor_msgs.msg import CompressedImage
    return CompressedImage(format=kind, data=data)


@pytest.mark.parametrize(('extension', 'kind'), [
    ('.png', 'png'), ('.png', 'bgr8; png compressed bgr8'), ('.jpg', 'jpeg'),
    ('.jpg', 'rgb8; jpeg compressed bgr8'), ('.jpg', '')])
def test_compressed_images_decode_to_bgr_frames(ros, extension, kind):
    rows, cols = np.mgrid[0:24, 0:40]  # smooth, so that JPEG keeps it close
    pixels = np.stack([cols * 6, rows * 10, (rows + cols) * 4], axis=-1).astype(np.uint8)
    ok, data = cv2.imencode(extension, pixels)
    frame, order = compressed_to_frame(_compressed(kind, data.tobytes()))
    assert order == 'bgr' and frame.shape == (24, 40, 3) and frame.dtype == np.uint8
    if extension == '.png':  # lossless
        assert np.array_equal(frame, pixels)
    else:
        assert np.abs(frame.astype(int) - pixels).mean() < 4


PNG = cv2.imencode('.png', np.zeros((8, 8, 3), np.uint8))[1].tobytes()
JPEG = cv2.imencode('.jpg', np.zeros((8, 8, 3), np.uint8))[1].tobytes()


@pytest.mark.parametrize(('kind', 'data', 'reason'), [
    ('tiff', PNG, "unsupported compressed format 'tiff'; use jpeg or png"),
    ('16UC1; compressedDepth png', PNG, 'is a depth image, not a camera image'),
    ('jpeg', PNG, "format 'jpeg' but the .* bytes of data are not JPEG"),
    ('png', b'', "format 'png' but the 0 bytes of data are not PNG"),
    ('jpeg', JPEG[:len(JPEG) // 2], 'cannot decode the JPEG data .*truncated or corrupt'),
    ('png', PNG[:40], 'cannot decode the PNG data .*truncated or corrupt'),
    ('', b'garbage', "unsupported compressed format ''")])
def test_malformed_compressed_images_are_rejected_with_the_reason(ros, kind, data, reason):
    with pytest.raises(ImageError, match=reason):
        compressed_to_frame(_compressed(kind, data))


def test_a_header_claiming_a_huge_image_is_refused_before_decoding(ros):
    data = bytearray(JPEG)
    start = data.index(b'\xff\xc0')  # the frame header: length, precision, height, width
    data[start + 5:start + 9] = (65000).to_bytes(2, 'big') * 2
    with pytest.raises(ImageError, match='cannot decode the JPEG data'):
        compressed_to_frame(_compressed('jpeg', bytes(data)))


@given(kind=st.sampled_from(['jpeg', 'png', '']), keep=st.integers(0, 400),
       noise=st.binary(max_size=64), at=st.integers(0, 400))
@settings(deadline=None)  # a decode on a busy 2-core machine can take a few hundred ms
def test_any_compressed_bytes_give_a_frame_or_a_named_refusal(kind, keep, noise, at):
    from sensor_msgs.msg import CompressedImage
    real = JPEG if kind != 'png' else PNG  # a real image, cut short and overwritten in places
    data = bytearray(real[:max(keep, 8)])
    data[at:at + len(noise)] = noise
    try:
        frame, _ = compressed_to_frame(CompressedImage(format=kind, data=bytes(data)))
    except ImageError as error:
        assert str(error)
    else:
        assert frame.ndim == 3 and frame.shape[2] == 3
