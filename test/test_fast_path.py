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

"""The fast paths compute the plain encoder's function; choices are validated before loading."""

import pytest
import torch
from vjepa_nodes.encoder import build_encoder
from vjepa_nodes.encoder.fast_path import (
    EncoderRunner, FAST_PATHS, FastPath, resolve_fast_path)
from vjepa_nodes.encoder.layers import PatchEmbed3D
from vjepa_nodes.perception.detector import ObstacleDetector

CPU, CUDA, MPS = torch.device('cpu'), torch.device('cuda', 0), torch.device('mps')


def relative_error(output, reference):
    return ((output - reference).norm() / reference.norm()).item()


@pytest.fixture(scope='module')
def tiny():
    return build_encoder('tiny', allow_random_weights=True)


@pytest.mark.parametrize(('choice', 'device', 'expected'), [
    ('auto', CUDA, FastPath(compile_model=True, cuda_graph=True)),
    ('auto', CPU, FastPath(compile_model=False, cuda_graph=False)),
    ('auto', MPS, FastPath(compile_model=False, cuda_graph=False)),
    ('none', CUDA, FastPath(compile_model=False, cuda_graph=False)),
    ('compile', CPU, FastPath(compile_model=True, cuda_graph=False)),
    ('cuda_graph', CUDA, FastPath(compile_model=False, cuda_graph=True)),
])
def test_auto_is_everything_on_cuda_and_nothing_elsewhere(choice, device, expected):
    fast_path = resolve_fast_path(choice, device)
    assert fast_path == expected
    assert fast_path.name in FAST_PATHS


@pytest.mark.parametrize(('choice', 'device', 'message'), [
    ('cuda_graph', CPU, 'needs a CUDA device'), ('compile+cuda_graph', MPS, 'needs a CUDA device'),
    ('off', CPU, "unknown fast_path 'off'"), ('fast', CUDA, 'choose one of auto, none'),
])
def test_impossible_choices_are_rejected(choice, device, message):
    with pytest.raises(ValueError, match=message):
        resolve_fast_path(choice, device)


def test_detector_rejects_a_fast_path_before_loading_weights():
    # No checkpoint and no random weights: only the fast-path check can fail first.
    with pytest.raises(ValueError, match='needs a CUDA device'):
        ObstacleDetector('tiny', device='cpu', fast_path='cuda_graph')


@pytest.mark.parametrize(('frames', 'height', 'width'), [(2, 16, 16), (4, 32, 48), (6, 64, 32)])
def test_patch_embedding_as_a_matrix_product_equals_the_convolution(frames, height, width):
    embed = PatchEmbed3D(3, 40, 16, 2)
    clip = torch.randn(2, 3, frames, height, width)
    expected = embed.proj(clip).flatten(2).transpose(1, 2)
    assert relative_error(embed(clip), expected) < 1e-6


def test_plain_runner_is_the_module(tiny):
    runner = EncoderRunner(tiny, 'none')
    clip = torch.randn(2, 3, 4, 32, 48)
    assert torch.equal(runner(clip), tiny(clip))
    assert list(runner.setup_seconds) == [tuple(clip.shape)]


@pytest.mark.parametrize(('clip', 'message'), [
    (torch.randn(1, 3, 3, 32, 32), '3 frames is not a positive multiple of 2'),
    (torch.randn(1, 3, 4, 30, 32), 'not a multiple of 16'),
    (torch.zeros(1, 3, 4, 32, 32, dtype=torch.uint8), 'expected a normalised float clip'),
])
def test_runner_rejects_bad_clips_like_the_module(tiny, clip, message):
    with pytest.raises(ValueError, match=message):
        EncoderRunner(tiny, 'none')(clip)


def test_compiled_path_matches_plain_for_each_shape(tiny):
    runner = EncoderRunner(tiny, 'compile')
    for shape in [(1, 3, 4, 32, 48), (2, 3, 2, 48, 32)]:  # a recompile per shape
        for _ in range(2):
            clip = torch.randn(shape)
            assert relative_error(runner(clip), tiny(clip)) < 1e-5
    assert runner.fast_path.compile_model
    assert set(runner.setup_seconds) == {(1, 3, 4, 32, 48), (2, 3, 2, 48, 32)}


def test_the_fused_linear_gelu_op_is_fc1_and_exact_gelu_and_survives_compilation():
    from vjepa_nodes.encoder.fused_ops import fused_gelu_applies, linear_gelu
    from vjepa_nodes.encoder.layers import GeluMlp
    mlp = GeluMlp(24, 96).eval()
    rows = torch.randn(10, 24)
    expected = torch.nn.functional.gelu(mlp.fc1(rows))
    with torch.inference_mode():
        assert relative_error(linear_gelu(rows, mlp.fc1.weight, mlp.fc1.bias), expected) < 1e-6
        compiled = torch.compile(lambda x: linear_gelu(x, mlp.fc1.weight, mlp.fc1.bias))
        assert relative_error(compiled(rows), expected) < 1e-6
    assert list(mlp.state_dict()) == ['fc1.weight', 'fc1.bias', 'fc2.weight', 'fc2.bias']
    assert not fused_gelu_applies(rows) and not fused_gelu_applies(rows.half())  # CPU


def test_compiler_failure_falls_back_to_the_plain_path(tiny, tmp_path, monkeypatch, caplog):
    # A machine without a working C++ compiler (seen on minimal Jetson images): Inductor fails.
    from torch._inductor import config as inductor_config
    monkeypatch.setenv('TORCHINDUCTOR_CACHE_DIR', str(tmp_path))  # nothing compiled to reuse
    monkeypatch.setattr(inductor_config, 'fx_graph_cache', False)
    monkeypatch.setattr(inductor_config.cpp, 'cxx', (str(tmp_path / 'no-such-compiler'),))
    torch._dynamo.reset()
    runner = EncoderRunner(tiny, 'compile')
    clip = torch.randn(1, 3, 2, 16, 64)
    with caplog.at_level('ERROR', logger='vjepa_nodes'):
        tokens = runner(clip)
    assert torch.equal(tokens, tiny(clip))
    assert runner.fast_path.name == 'none'
    assert 'torch.compile failed' in caplog.text
    assert 'continuing without compilation' in caplog.text


@pytest.mark.skipif(not torch.cuda.is_available(), reason='cuBLASLt epilogues need CUDA')
@pytest.mark.parametrize('dtype', [torch.bfloat16, torch.float16])
def test_the_fused_mlp_in_half_precision_stays_within_rounding_of_fp32(dtype):
    from vjepa_nodes.encoder.fused_ops import fused_gelu_applies
    from vjepa_nodes.encoder.layers import GeluMlp
    mlp = GeluMlp(256, 1024).cuda().eval()
    x = torch.randn(2, 300, 256, device='cuda')
    with torch.inference_mode():
        expected = mlp(x)
        half = mlp.to(dtype)
        assert fused_gelu_applies(x.to(dtype))
        assert relative_error(half(x.to(dtype)), expected) < 1e-2


@pytest.mark.skipif(not torch.cuda.is_available(), reason='CUDA graphs need an NVIDIA GPU')
@pytest.mark.parametrize('fast_path', ['cuda_graph', 'compile+cuda_graph'])
def test_cuda_graph_paths_match_plain_with_fresh_outputs(tiny, fast_path):
    # Runs where a GPU is present (scripts/gpu_benchmark.sh tests); CI machines have none.
    import copy
    encoder = copy.deepcopy(tiny).cuda()
    runner = EncoderRunner(encoder, fast_path)
    outputs = []
    for shape in [(1, 3, 4, 32, 48), (2, 3, 2, 48, 32)]:
        for _ in range(2):
            clip = torch.randn(shape, device='cuda')
            outputs.append(runner(clip))
            assert relative_error(outputs[-1], encoder(clip)) < 1e-5
    # Each call returns its own tensor: the next replay must not overwrite a kept result.
    assert not torch.equal(outputs[0], outputs[1])
    assert len({tokens.data_ptr() for tokens in outputs}) == len(outputs)
