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

"""Frames to clips: validation, geometry of both resize modes, colour order, heat-map mapping."""

import numpy as np
import pytest
import torch
import torchvision.transforms.v2.functional as TF
from vjepa_nodes.encoder.config import IMAGENET_MEAN, IMAGENET_STD
from vjepa_nodes.perception.preprocessing import (
    activation_to_heatmap, check_frame, clip_geometry, FrameError, Preprocessor)

CPU = torch.device('cpu')


@pytest.mark.parametrize(('frame', 'message'), [
    ([[0]], 'must be a numpy array, got list'),
    (np.zeros((4, 4, 3), np.float32), 'must be uint8, got float32'),
    (np.zeros((4, 4), np.uint8), 'must be H x W x 3'),
    (np.zeros((4, 4, 4), np.uint8), 'must be H x W x 3 (RGB or BGR), got shape (4, 4, 4)'),
    (np.zeros((0, 4, 3), np.uint8), 'frame is empty'),
])
def test_bad_frames_are_named(frame, message):
    with pytest.raises(FrameError) as error:
        check_frame(frame)
    assert message in str(error.value)


@pytest.mark.parametrize(('source', 'img_size', 'model'), [
    ((480, 640), 256, (224, 288)), ((480, 640), 384, (336, 448)), ((256, 256), 256, (256, 256)),
    ((720, 1280), 256, (192, 336)), ((100, 30), 64, (112, 48))])  # >= 3 columns
def test_full_mode_keeps_the_view_and_aspect(source, img_size, model):
    geometry = clip_geometry(source, img_size, 'full')
    assert geometry.input_size == model
    assert geometry.crop == (0, 0, *source)
    assert all(side % 16 == 0 for side in geometry.input_size)


def test_center_crop_matches_the_official_transform_geometry():
    geometry = clip_geometry((480, 640), 256, 'center_crop')
    # short side 480 -> 292 (640 -> 389); the 256 crop starts at (18, 66) there, which is
    # rows 30..450 and columns 109..530 of the source (256 * 480 / 292 = 421 pixels)
    assert geometry.input_size == (256, 256) and geometry.resize == (292, 389)
    assert geometry.offset == (18, 66)
    assert geometry.crop == (30, 109, 420, 421)


def test_clip_layout_normalisation_and_colour_order():
    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 256, (48, 64, 3), dtype=np.uint8) for _ in range(4)]
    prep = Preprocessor(64, 'full', CPU, torch.float32)
    rgb, geometry = prep(frames, 'rgb')
    bgr, _ = prep([f[..., ::-1].copy() for f in frames], 'bgr')
    assert rgb.shape == (1, 3, 4, *geometry.input_size) and rgb.dtype == torch.float32
    torch.testing.assert_close(rgb, bgr)
    white, _ = prep([np.full((48, 64, 3), 255, np.uint8)] * 2, 'rgb')
    expected = (1 - torch.tensor(IMAGENET_MEAN)) / torch.tensor(IMAGENET_STD)
    torch.testing.assert_close(white[0, :, 0, 0, 0], expected)


@pytest.mark.parametrize('source', [(480, 640), (640, 480), (300, 300)])
def test_center_crop_equals_the_official_torchvision_transform(source):
    frames = [np.random.default_rng(i).integers(0, 256, (*source, 3), dtype=np.uint8)
              for i in range(2)]
    clip, geometry = Preprocessor(256, 'center_crop', CPU, torch.float32)(frames)
    pixels = torch.from_numpy(np.stack(frames)).permute(0, 3, 1, 2).float() / 255
    official = TF.center_crop(TF.resize(pixels, 292, antialias=True), [256, 256])
    official = TF.normalize(official, IMAGENET_MEAN, IMAGENET_STD)
    torch.testing.assert_close(clip[0].permute(1, 0, 2, 3), official)


def test_half_precision_on_request():
    frames = [np.zeros((480, 640, 3), np.uint8)] * 2
    clip, _ = Preprocessor(256, 'center_crop', CPU, torch.bfloat16)(frames)
    assert clip.shape == (1, 3, 2, 256, 256) and clip.dtype == torch.bfloat16


def test_heatmap_lands_where_the_patches_are():
    grid = torch.zeros(3, 4)
    grid[0, 3] = 1.0  # top-right patch
    full = activation_to_heatmap(grid, clip_geometry((48, 64), 64, 'full'))
    assert full.shape == (48, 64) and full.dtype == np.float32
    assert full[:16, 48:].mean() > 0.5 and full[24:, :32].max() == 0.0
    cropped = activation_to_heatmap(torch.ones(16, 16),
                                    clip_geometry((480, 640), 256, 'center_crop'))
    assert cropped[:, :109].max() == 0.0 and cropped[:, 530:].max() == 0.0
    assert cropped[30:450, 109:530].min() == pytest.approx(1.0)
    assert cropped[:30].max() == 0.0 and cropped[450:].max() == 0.0


def test_unknown_modes_are_rejected():
    with pytest.raises(ValueError, match="unknown resize_mode 'stretch'"):
        Preprocessor(64, 'stretch', CPU, torch.float32)
    with pytest.raises(ValueError, match="unknown channel_order 'rgba'"):
        Preprocessor(64, 'full', CPU, torch.float32)([np.zeros((16, 16, 3), np.uint8)], 'rgba')


def _frames(count, height=48, width=64, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, (height, width, 3), dtype=np.uint8) for _ in range(count)]


@pytest.mark.parametrize('mode', ['full', 'center_crop'])
def test_overlapping_clips_reuse_processed_frames_with_identical_results(mode):
    frames = _frames(8)
    cached = Preprocessor(64, mode, CPU, torch.float32)
    for start in (0, 2, 4):  # clips of 4 frames, 2 new each time
        clip, _ = cached(frames[start:start + 4])
        fresh, _ = Preprocessor(64, mode, CPU, torch.float32)(frames[start:start + 4])
        assert torch.equal(clip, fresh)
    assert cached.uploaded_frames == 4 + 2 + 2


def test_reused_frames_follow_channel_order_and_size_changes():
    frames = _frames(4)
    preprocess = Preprocessor(64, 'full', CPU, torch.float32)
    rgb, _ = preprocess(frames)
    bgr, _ = preprocess(frames, 'bgr')  # same arrays, other order: processed again
    assert torch.equal(bgr, Preprocessor(64, 'full', CPU, torch.float32)(frames, 'bgr')[0])
    assert not torch.equal(rgb, bgr) and preprocess.uploaded_frames == 8
    smaller = _frames(4, 32, 96, seed=1)
    clip, geometry = preprocess(smaller)
    assert clip.shape[-2:] == geometry.input_size and preprocess.uploaded_frames == 12


@pytest.mark.parametrize(('height', 'width', 'message'), [
    (1, 300000, 'too thin'), (300, 1201, 'too thin'), (1201, 300, 'too thin'),
    (8193, 8193, 'too large')])
def test_thin_or_huge_frames_are_refused_before_any_work(height, width, message):
    frame = np.empty((height, width, 3), np.uint8)
    with pytest.raises(FrameError, match=message):
        check_frame(frame)


@pytest.mark.parametrize('resize_mode', ['full', 'center_crop'])
@pytest.mark.parametrize(('height', 'width'), [(300, 1200), (1200, 300), (2, 8), (4096, 4096)])
def test_every_accepted_frame_gives_a_bounded_model_input(resize_mode, height, width):
    check_frame(np.empty((height, width, 3), np.uint8))
    model_height, model_width = clip_geometry((height, width), 256, resize_mode).input_size
    assert max(model_height, model_width) <= 2 * 256  # at most 4:1 around 256 x 256 pixels
    assert model_height * model_width <= 1.1 * 256 * 256
