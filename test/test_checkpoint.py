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

"""Checkpoint sources and formats load; each malformed checkpoint fails with a precise message."""

import json
import os
from pathlib import Path
import subprocess
import sys

from checkpoint_files import hf_model, hf_reference, official_checkpoint, relative_error
import pytest
from safetensors.torch import save_file
import torch
from vjepa_nodes import build_encoder, CheckpointError, ENCODER_CONFIGS, RandomWeightsWarning


@pytest.fixture(scope='module')
def tiny_hf():
    return hf_model(ENCODER_CONFIGS['tiny'], crop_size=32)


@pytest.fixture(scope='module')
def tiny_official_weights(tiny_hf, tmp_path_factory):
    """Official-name tiny weights, taken from a transformers model through our HF mapping."""
    path = tmp_path_factory.mktemp('hf') / 'model.safetensors'
    save_file(tiny_hf.state_dict(), path)
    return build_encoder('tiny', checkpoint=path).state_dict()


@pytest.fixture
def tiny_weights(tiny_official_weights):
    """Return a copy of the tiny weights that a test may change."""
    return dict(tiny_official_weights)


def _clip():
    return torch.randn(1, 3, 2, 32, 32, generator=torch.Generator().manual_seed(1))


def _assert_matches_hf(encoder, tiny_hf):
    with torch.no_grad():
        assert relative_error(encoder(_clip()), hf_reference(tiny_hf, _clip())) < 1e-5


def _save_sharded(state_dict, directory: Path):
    names = sorted(state_dict)
    half = len(names) // 2
    weight_map = {}
    for index, part in enumerate((names[:half], names[half:])):
        shard = f'model-0000{index + 1}-of-00002.safetensors'
        save_file({name: state_dict[name] for name in part}, directory / shard)
        weight_map.update(dict.fromkeys(part, shard))
    (directory / 'model.safetensors.index.json').write_text(json.dumps({'weight_map': weight_map}))


def test_every_hf_layout_loads(tiny_hf, tmp_path):
    state_dict = tiny_hf.state_dict()
    layouts = {
        'file': tmp_path / 'file' / 'model.safetensors',
        'snapshot': tmp_path / 'snapshot',
        'sharded': tmp_path / 'sharded',
        'classifier': tmp_path / 'classifier' / 'model.safetensors',
    }
    for path in layouts.values():
        (path.parent if path.suffix else path).mkdir()
    save_file(state_dict, layouts['file'])
    save_file(state_dict, layouts['snapshot'] / 'model.safetensors')
    (layouts['snapshot'] / 'config.json').write_text('{}')
    _save_sharded(state_dict, layouts['sharded'])
    # VJEPA2ForVideoClassification nests the encoder under 'vjepa2.' beside its own head.
    classifier = {'vjepa2.' + k: v for k, v in state_dict.items() if k.startswith('encoder.')}
    classifier['classifier.weight'] = torch.zeros(174, 160)
    save_file(classifier, layouts['classifier'])
    for name, path in layouts.items():
        encoder = build_encoder('tiny', checkpoint=str(path))
        _assert_matches_hf(encoder, tiny_hf)
        assert str(encoder.weights_source).startswith(str(tmp_path)), name


def test_official_pt_chooses_encoder_or_target_encoder(tiny_weights, tiny_hf, tmp_path):
    target = {name: value + 0.01 for name, value in tiny_weights.items()}
    torch.save(official_checkpoint(tiny_weights, target), tmp_path / 'vitt.pt')
    encoder = build_encoder('tiny', checkpoint=tmp_path / 'vitt.pt')
    _assert_matches_hf(encoder, tiny_hf)
    assert encoder.weights_source == f'{tmp_path / "vitt.pt"} [encoder]'
    ema = build_encoder('tiny', checkpoint=tmp_path / 'vitt.pt', checkpoint_key='target_encoder')
    for name, value in ema.state_dict().items():
        torch.testing.assert_close(value, target[name])


def test_bare_state_dicts_load_in_either_naming(tiny_weights, tiny_hf, tmp_path):
    torch.save(tiny_weights, tmp_path / 'official_names.pt')
    torch.save(tiny_hf.state_dict(), tmp_path / 'hf_names.pt')
    for name in ('official_names.pt', 'hf_names.pt'):
        _assert_matches_hf(build_encoder('tiny', checkpoint=tmp_path / name), tiny_hf)


def test_half_precision_checkpoint_loads_as_fp32(tiny_weights, tmp_path):
    save_file({k: v.half() for k, v in tiny_weights.items()}, tmp_path / 'half.safetensors')
    encoder = build_encoder('tiny', checkpoint=tmp_path / 'half.safetensors')
    for name, value in encoder.state_dict().items():
        assert value.dtype == torch.float32 and value.device.type == 'cpu'
        torch.testing.assert_close(value, tiny_weights[name].half().float(), rtol=0, atol=0)
    assert not encoder.training
    assert not any(p.requires_grad for p in encoder.parameters())


def _expect_error(checkpoint, *fragments, model_size='tiny', **kwargs):
    with pytest.raises(CheckpointError) as error:
        build_encoder(model_size, checkpoint=checkpoint, **kwargs)
    for fragment in fragments:
        assert fragment in str(error.value), str(error.value)


def test_missing_key_is_named(tiny_weights, tmp_path):
    del tiny_weights['blocks.1.mlp.fc2.bias']
    torch.save({'encoder': tiny_weights}, tmp_path / 'missing.pt')
    _expect_error(tmp_path / 'missing.pt', str(tmp_path / 'missing.pt'),
                  'missing keys (1): blocks.1.mlp.fc2.bias', "looks like model_size='tiny'")


def test_unexpected_key_is_named(tiny_weights, tmp_path):
    tiny_weights['blocks.0.attn.q_norm.weight'] = torch.ones(80)
    save_file(tiny_weights, tmp_path / 'extra.safetensors')
    _expect_error(tmp_path / 'extra.safetensors', str(tmp_path / 'extra.safetensors'),
                  'unexpected keys (1): blocks.0.attn.q_norm.weight')


def test_unmapped_hf_key_is_named(tiny_hf, tmp_path):
    state_dict = dict(tiny_hf.state_dict())
    state_dict['encoder.embeddings.position_ids'] = torch.zeros(4)
    save_file(state_dict, tmp_path / 'model.safetensors')
    _expect_error(tmp_path / 'model.safetensors',
                  'unexpected keys (1): encoder.embeddings.position_ids')


def test_hf_file_missing_a_projection_is_named(tiny_hf, tmp_path):
    state_dict = {k: v for k, v in tiny_hf.state_dict().items()
                  if k != 'encoder.layer.1.attention.key.bias'}
    save_file(state_dict, tmp_path / 'model.safetensors')
    _expect_error(tmp_path / 'model.safetensors', str(tmp_path / 'model.safetensors'),
                  'missing keys (1): blocks.1.attn.qkv.bias',
                  'unexpected keys (2): encoder.layer.1.attention.query.bias, '
                  'encoder.layer.1.attention.value.bias', "looks like model_size='tiny'")


def test_legacy_hf_attention_names_load(tiny_hf, tmp_path):
    legacy = {k.replace('.attention.', '.attention.attention.'): v
              for k, v in tiny_hf.state_dict().items()}
    save_file(legacy, tmp_path / 'model.safetensors')
    _assert_matches_hf(build_encoder('tiny', checkpoint=tmp_path / 'model.safetensors'), tiny_hf)


@pytest.mark.parametrize('prefix', ['module.', 'backbone.', 'module.backbone.', ''])
def test_wrapper_prefixes_are_stripped(tiny_weights, tiny_hf, tmp_path, prefix):
    # 'module.' alone is the V-JEPA 2-AC layout; 'module.backbone.' the pretraining one.
    wrapped = {prefix + k: v for k, v in tiny_weights.items()}
    torch.save({'encoder': wrapped}, tmp_path / 'wrapped.pt')
    _assert_matches_hf(build_encoder('tiny', checkpoint=tmp_path / 'wrapped.pt'), tiny_hf)


def test_legacy_pickle_format_loads(tiny_weights, tiny_hf, tmp_path):
    torch.save({'encoder': tiny_weights}, tmp_path / 'old.pt',
               _use_new_zipfile_serialization=False)
    _assert_matches_hf(build_encoder('tiny', checkpoint=tmp_path / 'old.pt'), tiny_hf)


def test_integer_tensors_are_rejected(tiny_weights, tmp_path):
    tiny_weights['norm.bias'] = torch.zeros(160, dtype=torch.int32)
    torch.save({'encoder': tiny_weights}, tmp_path / 'ints.pt')
    _expect_error(tmp_path / 'ints.pt', 'non-float weights (1): norm.bias (torch.int32)',
                  "looks like model_size='tiny'")


def test_shape_mismatch_is_named(tiny_weights, tmp_path):
    tiny_weights['blocks.0.mlp.fc1.weight'] = torch.zeros(600, 160)
    torch.save({'encoder': tiny_weights}, tmp_path / 'shape.pt')
    _expect_error(tmp_path / 'shape.pt',
                  'blocks.0.mlp.fc1.weight: file (600, 160) vs model (640, 160)')


def test_checkpoint_of_another_size_is_identified(tiny_weights, tmp_path):
    torch.save({'encoder': tiny_weights}, tmp_path / 'tiny.pt')
    _expect_error(tmp_path / 'tiny.pt', str(tmp_path / 'tiny.pt'), "model_size='small'",
                  "looks like model_size='tiny' (width 160, 2 blocks)", model_size='small')


def test_encoder_from_unknown_family_is_described(tmp_path):
    torch.save({'encoder': {'blocks.0.norm1.weight': torch.ones(3)}}, tmp_path / 'other.pt')
    _expect_error(tmp_path / 'other.pt', 'has no patch embedding and 1 blocks')


@pytest.mark.parametrize('suffix', ['.pt', '.safetensors'])
def test_truncated_file_is_reported(tiny_weights, tmp_path, suffix):
    path = tmp_path / f'cut{suffix}'
    if suffix == '.pt':
        torch.save({'encoder': tiny_weights}, path)
    else:
        save_file(tiny_weights, path)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    _expect_error(path, str(path), 'truncated')


@pytest.mark.parametrize('suffix', ['.pt', '.safetensors'])
def test_non_checkpoint_file_is_reported(tmp_path, suffix):
    path = tmp_path / f'notes{suffix}'
    path.write_text('these are not weights\n')
    _expect_error(path, str(path), 'not a checkpoint')


def test_non_dict_checkpoint_is_reported(tmp_path):
    torch.save(torch.zeros(3), tmp_path / 'tensor.pt')
    _expect_error(tmp_path / 'tensor.pt', 'holds a Tensor, not a dict of weights')


def test_absent_checkpoint_key_lists_what_is_there(tiny_weights, tmp_path):
    torch.save({'encoder': tiny_weights, 'epoch': 3}, tmp_path / 'only_encoder.pt')
    _expect_error(tmp_path / 'only_encoder.pt', "no 'target_encoder' entry",
                  'has the top-level keys encoder, epoch', checkpoint_key='target_encoder')
    torch.save({'epoch': 3}, tmp_path / 'no_weights.pt')
    _expect_error(tmp_path / 'no_weights.pt',
                  "no 'encoder' entry: it has the top-level keys epoch")


def test_bare_state_dict_cannot_stand_in_for_target_encoder(tiny_weights, tmp_path):
    torch.save(tiny_weights, tmp_path / 'bare.pt')
    encoder = build_encoder('tiny', checkpoint=tmp_path / 'bare.pt')
    assert encoder.weights_source == str(tmp_path / 'bare.pt')
    _expect_error(tmp_path / 'bare.pt', "no 'target_encoder' entry: it is a bare state dict",
                  checkpoint_key='target_encoder')


class Payload:
    """An arbitrary Python object: weights-only loading must refuse to unpickle it."""


def test_pickled_objects_are_refused(tmp_path):
    torch.save({'encoder': Payload()}, tmp_path / 'pickle.pt')
    _expect_error(tmp_path / 'pickle.pt', 'refusing to load', str(tmp_path / 'pickle.pt'))


def test_directory_without_weights_is_reported(tmp_path):
    _expect_error(tmp_path, 'holds neither model.safetensors')


@pytest.mark.parametrize('missing', ['weights/vitl.pt', './ckpt/vitl', '~/nothing/here',
                                     'checkpoints/model.safetensors'])
def test_missing_path_is_not_mistaken_for_a_model_id(missing):
    _expect_error(missing, f"checkpoint '{missing}' does not exist (looked for ")


def test_unknown_checkpoint_key_is_rejected(tmp_path):
    with pytest.raises(ValueError, match='checkpoint_key must be one of'):
        build_encoder('tiny', checkpoint=tmp_path, checkpoint_key='predictor')


def _build_offline(model_id: str, hf_home: Path) -> subprocess.CompletedProcess:
    """Build 'tiny' from a model id in a fresh interpreter with the hub offline."""
    code = ('from vjepa_nodes import build_encoder\n'
            f"print(build_encoder('tiny', checkpoint={model_id!r}).weights_source)\n")
    env = dict(os.environ, HF_HUB_OFFLINE='1', HF_HOME=str(hf_home))
    return subprocess.run([sys.executable, '-c', code], env=env, capture_output=True,
                          text=True, timeout=120)


def test_offline_model_id_explains_manual_download(tmp_path):
    result = _build_offline('facebook/vjepa2-vitl-fpc64-256', tmp_path)
    assert result.returncode != 0
    assert "could not fetch 'facebook/vjepa2-vitl-fpc64-256'" in result.stderr
    assert 'huggingface-cli download facebook/vjepa2-vitl-fpc64-256' in result.stderr


def test_model_id_loads_from_the_hub_cache_offline(tiny_hf, tmp_path):
    # The layout huggingface_hub leaves after a download: refs/main names a snapshot folder.
    repo = tmp_path / 'hub' / 'models--example--vjepa2-tiny'
    (repo / 'refs').mkdir(parents=True)
    (repo / 'refs' / 'main').write_text('0123abcd')
    (repo / 'snapshots' / '0123abcd').mkdir(parents=True)
    save_file(tiny_hf.state_dict(), repo / 'snapshots' / '0123abcd' / 'model.safetensors')
    result = _build_offline('example/vjepa2-tiny', tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(repo / 'snapshots' / '0123abcd' / 'model.safetensors')


def test_no_checkpoint_needs_explicit_random_weights():
    with pytest.raises(ValueError, match='allow_random_weights=True') as error:
        build_encoder('large')
    assert 'facebook/vjepa2-vitl-fpc64-256' in str(error.value)


def test_random_weights_are_announced(caplog):
    with pytest.warns(RandomWeightsWarning, match='scores are meaningless'):
        encoder = build_encoder('tiny', allow_random_weights=True)
    assert encoder.weights_source.startswith('RANDOM')
    assert [r.levelname for r in caplog.records if 'RANDOM' in r.getMessage()] == ['WARNING']


def test_non_tensor_entries_are_rejected(tiny_weights, tmp_path):
    tiny_weights['norm.bias'] = 'not a tensor'
    torch.save({'encoder': tiny_weights}, tmp_path / 'strings.pt')
    _expect_error(tmp_path / 'strings.pt', 'entries that are not tensors: norm.bias')
