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

"""The predictor equals the official V-JEPA 2 / 2.1 code and loads strictly from their files."""

import logging

from checkpoint_files import OFFICIAL_PREFIX, perturb_vectors, relative_error
from official_vjepa21 import official_predictors, OfficialCodeMissing
import pytest
import torch
from vjepa_nodes.encoder.checkpoint import CheckpointError
from vjepa_nodes.encoder.config import get_encoder_config
from vjepa_nodes.encoder.predictor import (
    PredictorConfig, released_predictor_config, VJepaPredictor)
from vjepa_nodes.encoder.predictor_files import load_predictor
from vjepa_nodes.perception.surprise import split_indices

PARITY = 1e-5  # relative, fp32
GRID = (4, 8, 8)  # 8 frames of 128 x 128: the official predictor's square grid


@pytest.fixture(scope='module')
def official(tmp_path_factory):
    try:
        return official_predictors(tmp_path_factory.mktemp('vjepa2_official'))
    except OfficialCodeMissing as missing:
        pytest.skip(str(missing))


def official_predictor(module, config: PredictorConfig, **version_kwargs):
    """Build the official predictor of `config` for GRID, every parameter off its init."""
    torch.manual_seed(1)
    model = module.vit_predictor(
        img_size=(16 * GRID[1], 16 * GRID[2]), patch_size=16, num_frames=2 * GRID[0],
        tubelet_size=2, embed_dim=config.encoder_dim, predictor_embed_dim=config.width,
        depth=config.depth, num_heads=config.num_heads, use_mask_tokens=True,
        num_mask_tokens=config.num_mask_tokens, use_rope=True, use_sdpa=True,
        **version_kwargs)
    return perturb_vectors(model.eval(), embeddings=True)


def save_released_layout(path, predictor_state: dict, extra: dict | None = None) -> None:
    """Save a predictor as the released files hold it: wrapped keys beside the encoders."""
    wrapped = {OFFICIAL_PREFIX + key: value for key, value in {
        **predictor_state, **(extra or {})}.items()}
    torch.save({'encoder': {}, 'target_encoder': {}, 'predictor': wrapped, 'epoch': 3}, path)


def random_index_sets(batch: int, context: int, targets: int) -> tuple:
    """Per clip, disjoint random context and target positions in GRID (unsorted)."""
    total = GRID[0] * GRID[1] * GRID[2]
    orders = [torch.randperm(total) for _ in range(batch)]
    return (torch.stack([order[:context] for order in orders]),
            torch.stack([order[context:context + targets] for order in orders]))


def check_parity(ours, official_call, levels: int = 1) -> None:
    """Random index sets (different per clip) and the surprise layout, batch of 2."""
    width = ours.config.encoder_dim * levels
    context_index, target_index = random_index_sets(2, 100, 60)
    layouts = [(context_index, target_index)]
    surprise = split_indices(GRID, 1, torch.device('cpu'))
    layouts.append(tuple(index.expand(2, -1) for index in surprise))
    for context_index, target_index in layouts:
        tokens = torch.randn(2, context_index.shape[1], width)
        with torch.no_grad():
            expected = official_call(tokens, [context_index], [target_index])
            actual = ours(tokens, context_index, target_index, GRID)
        assert relative_error(actual, expected) < PARITY
    with torch.no_grad():  # one index set for the batch, as the detector passes it
        tokens = torch.randn(2, surprise[0].numel(), width)
        shared = ours(tokens, *surprise, GRID)
        per_clip = ours(tokens, *(index.expand(2, -1) for index in surprise), GRID)
    torch.testing.assert_close(shared, per_clip)


def test_vjepa2_predictor_equals_the_official_code_from_a_released_layout_file(
        official, tmp_path, caplog):
    config = released_predictor_config(get_encoder_config('small'), 'small')
    reference = official_predictor(official[0], config)
    pos_embed = {'predictor_pos_embed': torch.zeros(1, 256, config.width)}
    save_released_layout(tmp_path / 'vits.pt', reference.state_dict(), pos_embed)
    with caplog.at_level(logging.INFO, logger='vjepa_nodes'):
        ours, trained_on = load_predictor(tmp_path / 'vits.pt', 'small', '2')
    assert trained_on is None
    assert 'ignoring predictor_pos_embed: a sincos position table' in caplog.text
    check_parity(ours, reference)


def test_full_width_vit_large_predictor_equals_the_official_code(official, tmp_path):
    config = released_predictor_config(get_encoder_config('large'), 'large')
    assert (config.width, config.depth, config.num_heads, config.num_mask_tokens) == (
        384, 12, 12, 10)
    reference = official_predictor(official[0], config)
    save_released_layout(tmp_path / 'vitl.pt', reference.state_dict())
    ours, _ = load_predictor(tmp_path / 'vitl.pt', 'large', '2')
    assert sum(p.numel() for p in ours.parameters()) == sum(
        p.numel() for p in reference.parameters())
    check_parity(ours, reference)


def test_vjepa21_predictor_equals_the_official_code(official, tmp_path, caplog):
    config = released_predictor_config(get_encoder_config('tiny', '2.1'), 'tiny')
    reference = official_predictor(official[1], config, n_output_distillation=1,
                                   return_all_tokens=True, img_temporal_dim_size=1)
    save_released_layout(tmp_path / 'vjepa2_1_tiny.pt', reference.state_dict())
    with caplog.at_level(logging.INFO, logger='vjepa_nodes'):
        ours, _ = load_predictor(tmp_path / 'vjepa2_1_tiny.pt', 'tiny', '2.1')
    for key in ('img_mod_embed', 'predictor_proj_context.weight'):
        assert f'ignoring {key}' in caplog.text
    check_parity(ours, lambda *args: reference(*args)[0])


def test_vjepa21_four_level_predictor_equals_the_official_code(official):
    """The giant and gigantic layout: 4 hierarchical levels in (through an MLP) and out."""
    config = PredictorConfig(192, '2.1', width=96, depth=4, num_heads=3, mlp_hidden_dim=384,
                             num_mask_tokens=8, levels=4)
    reference = official_predictor(official[1], config, n_output_distillation=4,
                                   img_temporal_dim_size=1)
    ours = VJepaPredictor(config).eval()
    ours.load_state_dict({key: value for key, value in reference.state_dict().items()
                          if key != 'img_mod_embed'}, strict=True)
    check_parity(ours, lambda *args: reference(*args)[0], levels=4)


def save_ours(path, config: PredictorConfig) -> None:
    save_released_layout(path, VJepaPredictor(config).state_dict())


@pytest.mark.parametrize('config, size, version, reason', [
    (PredictorConfig(1408), 'large', '2',
     'it reads 1408-wide tokens, this encoder makes 1024'),
    (released_predictor_config(get_encoder_config('tiny', '2.1'), 'tiny'), 'small', '2',
     'it is a V-JEPA 2.1 predictor (with video_mod_embed)'),
    (released_predictor_config(get_encoder_config('base', '2.1'), 'base'), 'base', '2.1',
     'it predicts 1664-wide features'),
    (PredictorConfig(192, width=96, depth=3, num_heads=3, mlp_hidden_dim=384), 'small', '2',
     'unexpected keys (12): predictor_blocks.2.'),
])
def test_a_predictor_for_another_encoder_is_refused_by_name(tmp_path, config, size, version,
                                                            reason):
    save_ours(tmp_path / 'predictor.pt', config)
    with pytest.raises(CheckpointError, match='does not fit') as refused:
        load_predictor(tmp_path / 'predictor.pt', size, version)
    assert reason in str(refused.value)


def test_a_file_without_a_predictor_is_refused_with_what_it_holds(tmp_path):
    torch.save({'encoder': {}, 'epoch': 1}, tmp_path / 'encoder_only.pt')
    with pytest.raises(CheckpointError, match="no 'predictor' entry .*encoder, epoch"):
        load_predictor(tmp_path / 'encoder_only.pt', 'small', '2')


def test_damaged_predictor_weights_are_refused(tmp_path):
    weights = VJepaPredictor(released_predictor_config(get_encoder_config('small'),
                                                       'small')).state_dict()
    for name, damage, reason in (
            ('text.pt', {'predictor_norm.weight': 'ones'}, 'not tensors: predictor_norm.weight'),
            ('int.pt', {'predictor_norm.weight': torch.ones(96, dtype=torch.int64)},
             r'non-float weights \(1\): predictor_norm.weight \(torch.int64\)')):
        torch.save({'predictor': {**weights, **damage}}, tmp_path / name)
        with pytest.raises(CheckpointError, match=reason):
            load_predictor(tmp_path / name, 'small', '2')
