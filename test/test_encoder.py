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

"""The encoder computes the official V-JEPA 2 function (checked against transformers)."""

from checkpoint_files import (
    hf_model, hf_reference, official_checkpoint, perturb_vectors, relative_error)
from hypothesis import given, strategies as st
import pytest
from safetensors.torch import save_file
import torch
from vjepa_nodes import build_encoder, ENCODER_CONFIGS, VJepa2Encoder
from vjepa_nodes.encoder import clip_token_grid


@pytest.mark.parametrize(('size', 'params'), [
    ('large', 303_885_312), ('huge', 631_648_000), ('giant', 1_012_173_952)])
def test_released_sizes_have_the_official_parameter_counts(size, params):
    with torch.device('meta'):
        encoder = VJepa2Encoder(ENCODER_CONFIGS[size])
    assert sum(p.numel() for p in encoder.parameters()) == params


@pytest.mark.parametrize('size', ['tiny', 'small'])
def test_small_config_matches_transformers(size, tmp_path):
    hf = hf_model(ENCODER_CONFIGS[size], crop_size=64)
    save_file(hf.state_dict(), tmp_path / 'model.safetensors')
    encoder = build_encoder(size, checkpoint=tmp_path / 'model.safetensors')
    clip = torch.randn(2, 3, 16, 64, 64)  # 8 temporal positions
    with torch.no_grad():
        expected = hf_reference(hf, clip)
        assert relative_error(encoder(clip), expected) < 1e-5
    if size == 'tiny':  # the MLX port against the same reference
        from vjepa_nodes.perception.mlx_backend import MlxEncoderRunner
        assert relative_error(MlxEncoderRunner.from_torch(encoder)(clip), expected) < 1e-5


@pytest.mark.parametrize(('frames', 'height', 'width'), [(2, 16, 16), (4, 32, 48), (6, 48, 32)])
def test_any_even_frame_count_and_size(frames, height, width):
    encoder = build_encoder('tiny', allow_random_weights=True)
    with torch.no_grad():
        tokens = encoder(torch.randn(1, 3, frames, height, width))
    assert tokens.shape == (1, frames // 2 * height // 16 * width // 16, 160)


@given(chans=st.integers(1, 4), frames=st.integers(0, 40), height=st.integers(0, 100),
       width=st.integers(0, 100))
def test_token_grid_accepts_exactly_the_valid_shapes(chans, frames, height, width):
    config = ENCODER_CONFIGS['large']
    valid = (chans == 3 and frames >= 2 and frames % 2 == 0 and min(height, width) >= 16
             and height % 16 == 0 and width % 16 == 0)
    try:
        grid = clip_token_grid(config, (1, chans, frames, height, width))
    except ValueError:
        assert not valid
    else:
        assert valid and grid == (frames // 2, height // 16, width // 16)


def test_tokens_are_in_time_row_column_order():
    # A change confined to the last frame pair and top-left patch shows up first in that token,
    # whose index is t * (rows * cols) + row * cols + col.
    encoder = build_encoder('tiny', allow_random_weights=True)
    encoder.blocks = encoder.blocks[:0]  # patch embedding + norm only: tokens stay local
    clip = torch.randn(1, 3, 4, 32, 48)
    changed = clip.clone()
    changed[:, :, 2:, :16, 16:32] += 1.0  # t'=1, row 0, col 1
    with torch.no_grad():
        diff = (encoder(changed) - encoder(clip)).abs().sum(-1)[0]
    assert diff.nonzero().flatten().tolist() == [1 * 6 + 0 * 3 + 1]


def test_batch_items_are_independent():
    encoder = build_encoder('tiny', allow_random_weights=True)
    clips = torch.randn(3, 3, 2, 32, 32)
    with torch.no_grad():
        together = encoder(clips)
        alone = torch.cat([encoder(clip[None]) for clip in clips])
    torch.testing.assert_close(together, alone, rtol=1e-5, atol=1e-5)


def test_cached_rope_tables_survive_inference_mode():
    encoder = build_encoder('tiny', allow_random_weights=True).requires_grad_(True)
    clip = torch.randn(1, 3, 2, 32, 32)
    with torch.inference_mode():
        expected = encoder(clip)
    tokens = encoder(clip)  # autograd on, same cached grid
    tokens.sum().backward()
    torch.testing.assert_close(tokens.detach(), expected)


@pytest.mark.parametrize('dtype', [torch.bfloat16, torch.float16])
def test_reduced_precision_stays_close_to_fp32(dtype):
    encoder = build_encoder('small', allow_random_weights=True)
    clip = torch.randn(1, 3, 4, 64, 64)
    with torch.no_grad():
        reference = encoder(clip)
        reduced = encoder.to(dtype)(clip.to(dtype))
    assert reduced.dtype == dtype
    assert relative_error(reduced.float(), reference) < 2e-2


def test_integer_frames_are_rejected():
    encoder = build_encoder('tiny', allow_random_weights=True)
    with pytest.raises(ValueError, match='normalised float clip, got dtype torch.uint8'):
        encoder(torch.zeros(1, 3, 2, 16, 16, dtype=torch.uint8))


@pytest.mark.parametrize(('shape', 'reason'), [
    ((1, 3, 16, 16), 'expected a clip of shape (B, C, T, H, W)'),
    ((1, 1, 2, 16, 16), '1 channels instead of 3'),
    ((1, 3, 3, 16, 16), '3 frames is not a positive multiple of 2'),
    ((1, 3, 2, 16, 24), '16x24 pixels is not a multiple of 16'),
    ((1, 3, 2, 0, 16), '0x16 pixels is not a multiple of 16'),
])
def test_bad_clip_shapes_are_rejected(shape, reason):
    encoder = build_encoder('tiny', allow_random_weights=True)
    with pytest.raises(ValueError) as error:
        encoder(torch.zeros(shape))
    assert reason in str(error.value)


@pytest.mark.slow
def test_vit_large_matches_transformers_from_both_checkpoint_formats(tmp_path):
    """Full-width ViT-L: the HF safetensors and the official .pt load into the same function."""
    hf = hf_model(ENCODER_CONFIGS['large'], crop_size=256)
    save_file(hf.state_dict(), tmp_path / 'model.safetensors')
    clip = torch.randn(1, 3, 4, 256, 256)
    reference = hf_reference(hf, clip)
    del hf

    from_hf = build_encoder('large', checkpoint=tmp_path / 'model.safetensors')
    with torch.no_grad():
        assert relative_error(from_hf(clip), reference) < 1e-5

    target = {name: value.clone() for name, value in from_hf.state_dict().items()}
    perturb_vectors(from_hf)  # the EMA encoder differs from the context encoder
    target_weights = from_hf.state_dict()
    torch.save(official_checkpoint(target, target_weights), tmp_path / 'vitl.pt')
    del from_hf, target, target_weights

    from_pt = build_encoder('large', checkpoint=tmp_path / 'vitl.pt')
    from_pt_target = build_encoder(
        'large', checkpoint=tmp_path / 'vitl.pt', checkpoint_key='target_encoder')
    with torch.no_grad():
        assert relative_error(from_pt(clip), reference) < 1e-5
        assert relative_error(from_pt_target(clip), reference) > 1e-3
