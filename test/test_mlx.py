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
Backend mlx with the real MLX (the CPU build on Linux): parity, weight cache, placement.

MLX's Linux CPU build uses a reference BLAS, 30-95x slower than PyTorch here: clips stay short.
"""

import dataclasses
import logging

from checkpoint_files import perturb_vectors, relative_error
import pytest
import torch
from vjepa_nodes.device import DeviceUnavailableError
from vjepa_nodes.encoder.build import build_encoder
from vjepa_nodes.encoder.config import ENCODER_CONFIGS, ENCODER_CONFIGS_2_1
from vjepa_nodes.encoder.mlx_weights import WEIGHTS_FILE
from vjepa_nodes.encoder.vit import VJepa2Encoder
from vjepa_nodes.perception.config import DetectorConfig
from vjepa_nodes.perception.detector import ObstacleDetector
from vjepa_nodes.perception.mlx_backend import (
    MlxEncoderRunner, MlxPlacement, parity_error, select_mlx_placement)

# Relative error against PyTorch fp32, of the whole output (of a token: twice that). fp32 is the
# target; the others leave room over what the half precisions give on these models (measured
# 7.6e-4 to 1.3e-3 in fp16, 6.0e-3 to 9.7e-3 in bf16; PyTorch's own are alike).
PARITY = {'fp32': 1e-5, 'fp16': 3e-3, 'bf16': 2e-2}


def encoder_of(config) -> VJepa2Encoder:
    torch.manual_seed(0)
    # Biases, norms and V-JEPA 2.1's modality embeddings off their initial values, so that a
    # weight the port forgot shows.
    return perturb_vectors(VJepa2Encoder(config), embeddings=True).eval()


# (encoder config, clip): each release's layout. ViT-L at full width with two of its 24 blocks;
# V-JEPA 2.1 ViT-B whole; one image through 2.1's image tokenizer.
CASES = {
    '2 tiny': (ENCODER_CONFIGS['tiny'], (2, 3, 4, 48, 64)),
    '2 large, 2 blocks': (dataclasses.replace(ENCODER_CONFIGS['large'], depth=2),
                          (1, 3, 4, 32, 48)),
    '2.1 base': (ENCODER_CONFIGS_2_1['base'], (1, 3, 4, 48, 48)),
    '2.1 tiny, one image': (ENCODER_CONFIGS_2_1['tiny'], (1, 3, 1, 48, 64)),
}


@pytest.mark.parametrize('case', CASES)
def test_mlx_encoder_equals_the_torch_encoder_in_each_precision(case):
    config, shape = CASES[case]
    encoder = encoder_of(config)
    clip = torch.randn(shape)
    with torch.inference_mode():
        expected = encoder(clip)
    for precision, tolerance in PARITY.items():
        tokens = MlxEncoderRunner.from_torch(encoder, precision)(clip)
        assert tokens.shape == expected.shape and tokens.dtype == torch.float32
        assert relative_error(tokens, expected) <= tolerance, precision
        worst = ((tokens - expected).norm(dim=-1) / expected.norm(dim=-1)).max().item()
        assert worst <= 2 * tolerance, precision


def test_a_forgotten_weight_would_show():
    encoder = encoder_of(ENCODER_CONFIGS_2_1['tiny'])
    clip = torch.randn(1, 3, 4, 48, 64)
    runner = MlxEncoderRunner.from_torch(encoder)
    with torch.no_grad():
        # The PyTorch side only; not a uniform shift, which every LayerNorm would remove.
        encoder.video_mod_embed.add_(0.1 * torch.randn_like(encoder.video_mod_embed))
        assert relative_error(runner(clip), encoder(clip)) > 1e-3


SETTINGS = {'model_size': 'tiny', 'img_size': 64, 'num_frames': 4, 'stride': 2,
            'allow_random_weights': True}


def detector(cache_dir, **settings) -> ObstacleDetector:
    return ObstacleDetector(config=DetectorConfig(
        **{**SETTINGS, 'backend': 'mlx', 'cache_dir': str(cache_dir), **settings}))


def test_the_weight_cache_is_built_reused_and_rebuilt_when_damaged(tmp_path, caplog):
    import json
    import mlx.core as mx
    caplog.set_level(logging.INFO, 'vjepa_nodes')
    first = detector(tmp_path)
    (entry,) = tmp_path.glob(f'*/{WEIGHTS_FILE}')
    assert first.backend.description.startswith('mlx on cpu in fp32, not compiled, weights '
                                                'converted into')
    # Cached only after matching PyTorch; the error is kept with the weights.
    _, metadata = mx.load(str(entry), return_metadata=True)
    assert 0 < json.loads(metadata['parity_rel_error']) < 1e-5
    assert 'matching PyTorch to' in caplog.text
    clip = torch.randn(1, 3, 4, 48, 80)
    expected = first.backend(clip)

    caplog.clear()
    again = detector(tmp_path)
    assert 'weights cached in' in again.backend.description
    assert torch.equal(again.backend(clip), expected)
    assert not any(record.levelno >= logging.WARNING and 'mlx' in record.getMessage()
                   for record in caplog.records)

    entry.write_bytes(entry.read_bytes()[:1000])  # a copy cut short
    caplog.clear()
    repaired = detector(tmp_path)
    assert 'converted into' in repaired.backend.description
    assert 'the cached weights are unusable' in caplog.text and 'cannot be read' in caplog.text
    assert torch.equal(repaired.backend(clip), expected)
    assert detector(tmp_path).backend.description == again.backend.description


def test_cached_weights_of_other_settings_are_refused_and_replaced(tmp_path, caplog):
    caplog.set_level(logging.INFO, 'vjepa_nodes')
    fp32 = detector(tmp_path)
    bf16 = detector(tmp_path, precision='bf16')
    assert len(list(tmp_path.glob(f'*/{WEIGHTS_FILE}'))) == 2  # one entry per precision
    # The bf16 file where the fp32 one belongs.
    fp32.backend.cache_path.write_bytes(bf16.backend.cache_path.read_bytes())
    caplog.clear()
    rebuilt = detector(tmp_path)
    assert ('holds other weights: precision is bf16 in the file but the detector needs fp32'
            in caplog.text)
    assert 'converted into' in rebuilt.backend.description
    clip = torch.randn(1, 3, 4, 48, 80)
    assert torch.equal(rebuilt.backend(clip), fp32.backend(clip))


def test_a_conversion_is_checked_against_the_encoder_it_came_from():
    encoder = build_encoder('tiny', allow_random_weights=True)
    other = perturb_vectors(build_encoder('tiny', allow_random_weights=True), scale=1.0)
    assert parity_error(MlxEncoderRunner.from_torch(encoder), encoder) < 1e-5
    assert parity_error(MlxEncoderRunner.from_torch(other), encoder) > 1e-2


def test_the_compiled_path_batches_cameras_like_torch(tmp_path):
    cameras = {'cameras': ['front', 'rear'], 'stagger_clips': False, 'device': 'cpu',
               'precision': 'fp32'}
    compiled = detector(tmp_path, fast_path='compile', **cameras)
    assert compiled.backend.pads_batches and 'mx.compile' in compiled.backend.description
    with_torch = ObstacleDetector(config=DetectorConfig(**SETTINGS, backend='torch', **cameras))
    frames = torch.randint(0, 255, (6, 2, 64, 96, 3), dtype=torch.uint8).numpy()
    compared = 0
    for index, pair in enumerate(frames):
        for each in (compiled, with_torch):
            for camera, frame in zip(('front', 'rear'), pair):
                each.add_frame(frame, index / 10, camera)
        ours, theirs = with_torch.detect_all(), compiled.detect_all()
        assert not ours.failures and not theirs.failures
        assert set(ours.results) == set(theirs.results)
        for camera, result in ours.results.items():
            assert relative_error(theirs.results[camera].features, result.features) < 1e-5
            compared += 1
    assert compared >= 4  # both cameras batched together, more than once


def test_auto_runs_mlx_on_apple_silicon(monkeypatch, tmp_path):
    from vjepa_nodes.backend_choice import Platform
    mac = Platform(system='Darwin', machine='arm64', mlx=True, mps=False, cuda=False)
    monkeypatch.setattr(Platform, 'probe', classmethod(lambda cls: mac))
    on_a_mac = ObstacleDetector(config=DetectorConfig(**SETTINGS, cache_dir=str(tmp_path)))
    assert on_a_mac.config.backend == 'auto' and on_a_mac.backend_choice.backend == 'mlx'
    assert on_a_mac.backend_choice.reason.startswith('auto on Darwin arm64: MLX is installed')
    assert on_a_mac.compute == ('mlx:cpu', 'fp32')  # this MLX has no Metal GPU


def test_other_weights_get_their_own_entry(tmp_path):
    from safetensors.torch import save_file
    encoder = build_encoder('tiny', allow_random_weights=True)
    perturb_vectors(encoder)
    save_file(encoder.state_dict(), tmp_path / 'tuned.safetensors')
    cache = tmp_path / 'cache'
    random = detector(cache)
    tuned = detector(cache, checkpoint=str(tmp_path / 'tuned.safetensors'),
                     allow_random_weights=False)
    assert random.backend.cache_path != tuned.backend.cache_path
    assert not tuned.backend.random_weights and random.backend.random_weights
    clip = torch.randn(1, 3, 4, 48, 80)
    with torch.no_grad():
        assert relative_error(tuned.backend(clip), encoder(clip)) < 1e-5


def test_the_detector_runs_mlx_on_the_cpu_and_says_so(tmp_path):
    mlx = detector(tmp_path)
    assert mlx.backend_choice.backend == 'mlx' and mlx.backend_choice.reason == 'set explicitly'
    assert mlx.compute == ('mlx:cpu', 'fp32')
    assert (mlx.device, mlx.dtype) == (torch.device('cpu'), torch.float32)  # PyTorch's part
    with pytest.raises(DeviceUnavailableError, match="device 'cuda' was requested for backend "
                                                     'mlx, but this MLX build is CPU-only'):
        detector(tmp_path, device='cuda')
    with pytest.raises(ValueError, match='surprise runs on the torch backend only: the MLX port'):
        DetectorConfig(**SETTINGS, backend='mlx', surprise=True)


@pytest.mark.parametrize(('device', 'precision', 'fast_path', 'gpu', 'placement'), [
    ('auto', 'auto', 'auto', 'metal', MlxPlacement('gpu', 'fp16', True, 'metal')),
    ('mps', 'bf16', 'none', 'metal', MlxPlacement('gpu', 'bf16', False, 'metal')),
    ('auto', 'auto', 'auto', '', MlxPlacement('cpu', 'fp32', False)),
    ('cpu', 'auto', 'compile', 'metal', MlxPlacement('cpu', 'fp32', True)),
    ('cuda:0', 'auto', 'auto', 'cuda', MlxPlacement('gpu', 'fp16', True, 'cuda')),
])
def test_mlx_placement_follows_the_device_precision_and_fast_path_settings(
        device, precision, fast_path, gpu, placement):
    assert select_mlx_placement(device, precision, fast_path, gpu) == placement


@pytest.mark.parametrize(('device', 'fast_path', 'gpu', 'message'), [
    ('mps', 'auto', '', 'this MLX build is CPU-only'),
    ('mps', 'auto', 'cuda', 'this MLX build drives CUDA'),
    ('cuda', 'auto', 'metal', 'this MLX build drives Metal'),
    ('cpu', 'cuda_graph', '', "fast_path 'cuda_graph' is for PyTorch on CUDA"),
    ('cuda:1', 'auto', 'cuda', 'backend mlx runs on its default GPU only'),
])
def test_impossible_mlx_placements_are_refused_saying_why(device, fast_path, gpu, message):
    with pytest.raises((DeviceUnavailableError, ValueError), match=message):
        select_mlx_placement(device, 'auto', fast_path, gpu)


def test_without_mlx_the_mlx_backend_says_what_to_install(monkeypatch):
    import sys
    ours = ('vjepa_nodes.encoder.mlx_vit', 'vjepa_nodes.encoder.mlx_weights',
            'vjepa_nodes.perception.mlx_backend')
    for name in [name for name in sys.modules if name.split('.')[0] == 'mlx' or name in ours]:
        monkeypatch.delitem(sys.modules, name)
    for name in ours:  # `from package import module` would find the loaded one here
        package, _, module = name.rpartition('.')
        monkeypatch.delattr(sys.modules[package], module, raising=False)
    monkeypatch.setitem(sys.modules, 'mlx', None)  # as if not installed
    with pytest.raises(ImportError, match=r'backend mlx needs MLX, which cannot be imported '
                                          r'here .*pip install "vjepa_nodes\[mlx\]"'):
        ObstacleDetector(config=DetectorConfig(**SETTINGS, backend='mlx'))
