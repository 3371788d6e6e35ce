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

"""ONNX export: exported files compute the PyTorch encoder's function in onnxruntime."""

import dataclasses
import json

from checkpoint_files import perturb_vectors, relative_error
from hypothesis import given, strategies as st
import pytest
import torch
from vjepa_nodes.encoder import onnx_export
from vjepa_nodes.encoder.build import build_encoder
from vjepa_nodes.encoder.config import ENCODER_CONFIGS
from vjepa_nodes.encoder.export_spec import (
    ExportFileError, ExportSpec, PARITY_TOLERANCE, read_sidecar, sidecar_path, spec_mismatches,
    write_sidecar)
from vjepa_nodes.encoder.onnx_export import (
    check_parity, export_onnx, export_spec, trtexec_command, weights_digest)
from vjepa_nodes.encoder.onnxruntime_encoder import OnnxRuntimeEncoder
from vjepa_nodes.encoder.vit import VJepa2Encoder
from vjepa_nodes.tools import export

# Measured on the dev CPU (relative error against PyTorch fp32): fp32 ~4e-7 (small) to ~7e-7
# (full-width ViT-L blocks); fp16 ~4e-4 to ~1e-3, from fp16 rounding, as PyTorch's own fp16.
FP32_PARITY = 1e-5
FP16_PARITY = 3e-3


def exported(tmp_path, encoder, model_size, frames, height, width, precision, **kwargs):
    spec = export_spec(encoder, model_size, frames, height, width, precision, **kwargs)
    path = export_onnx(encoder, spec, tmp_path / f'{model_size}_{precision}.onnx')
    write_sidecar(path, spec)
    return path, spec


@pytest.fixture(scope='module')
def small_encoder():
    return perturb_vectors(build_encoder('small', allow_random_weights=True))


@pytest.mark.parametrize(('precision', 'tolerance'), [('fp32', FP32_PARITY),
                                                      ('fp16', FP16_PARITY)])
def test_small_export_matches_pytorch_on_a_non_square_clip(tmp_path, small_encoder, precision,
                                                           tolerance):
    path, spec = exported(tmp_path, small_encoder, 'small', 4, 48, 80, precision)
    run = OnnxRuntimeEncoder(path, spec, providers=['CPUExecutionProvider'])
    assert 0 < check_parity(small_encoder, run.run_numpy, spec) < tolerance
    clip = torch.randn(spec.clip_shape).to(run.dtype)
    with torch.inference_mode():
        expected = small_encoder(clip.float())
    tokens = run(clip)
    assert tokens.shape == (1, 2 * 3 * 5, 192) and tokens.dtype == run.dtype
    assert relative_error(tokens.float(), expected) < tolerance


@pytest.mark.parametrize(('precision', 'tolerance'), [('fp32', FP32_PARITY),
                                                      ('fp16', FP16_PARITY)])
def test_full_width_vit_large_blocks_export_within_tolerance(tmp_path, monkeypatch, precision,
                                                             tolerance):
    # 2 blocks weigh 107 MB in fp32 and 54 MB in fp16: the fp32 file goes to external data.
    monkeypatch.setattr(onnx_export, 'EXTERNAL_DATA_BYTES', 80 << 20)
    # ViT-L's width, heads and MLP (its RoPE split and matrix shapes) at 2 of its 24 blocks.
    config = dataclasses.replace(ENCODER_CONFIGS['large'], depth=2)
    encoder = perturb_vectors(VJepa2Encoder(config).eval().requires_grad_(False))
    path, spec = exported(tmp_path, encoder, 'large', 16, 256, 256, precision)
    run = OnnxRuntimeEncoder(path, spec, providers=['CPUExecutionProvider'])
    assert check_parity(encoder, run.run_numpy, spec) < tolerance
    assert (path.with_suffix('.onnx.data').is_file() and path.stat().st_size < 10e6) == (
        precision == 'fp32')


def test_dynamic_batch_takes_any_batch_and_fixed_batch_refuses_others(tmp_path, small_encoder):
    path, spec = exported(tmp_path, small_encoder, 'small', 4, 32, 48, 'fp32',
                          dynamic_batch=True)
    run = OnnxRuntimeEncoder(path, spec)
    clips = torch.randn(3, 3, 4, 32, 48)
    with torch.inference_mode():
        expected = small_encoder(clips)
    assert relative_error(run(clips), expected) < FP32_PARITY
    assert relative_error(run(clips[:1]), expected[:1]) < FP32_PARITY
    fixed = OnnxRuntimeEncoder(*exported(tmp_path, small_encoder, 'small', 4, 32, 48, 'fp16'))
    with pytest.raises(ValueError, match=r'exported for clips of shape \(1, 3, 4, 32, 48\)'):
        fixed(clips.half())
    with pytest.raises(ValueError, match='--frames 6 --resolution 32x48'):
        fixed(torch.randn(1, 3, 6, 32, 48).half())
    with pytest.raises(ValueError, match='takes fp16 clips'):
        fixed(clips[:1])


def test_sidecar_records_the_export_and_the_trtexec_command_uses_it(tmp_path, small_encoder):
    path, spec = exported(tmp_path, small_encoder, 'small', 4, 32, 48, 'fp16', batch=2)
    written = json.loads(sidecar_path(path).read_text())
    assert written['weights_digest'] == weights_digest(small_encoder) and len(
        written['weights_digest']) == 64
    assert (written['model_size'], written['frames'], written['height'], written['width'],
            written['precision'], written['batch'], written['opset']) == (
        'small', 4, 32, 48, 'fp16', 2, 18)
    assert written['random_weights'] and written['package_version']
    assert read_sidecar(path) == spec
    command = trtexec_command(path, spec)
    assert f'--onnx={path}' in command and '--fp16' in command
    assert f'--saveEngine={path.with_suffix(".engine")}' in command
    assert command.endswith('--shapes=clip:2x3x4x32x48')


def test_digest_follows_the_weights_not_the_object(small_encoder):
    copy = build_encoder('small', allow_random_weights=True)
    assert weights_digest(copy) == weights_digest(build_encoder('small',
                                                                allow_random_weights=True))
    assert weights_digest(copy) != weights_digest(small_encoder)  # perturbed


def test_missing_and_corrupt_sidecars_are_refused(tmp_path):
    with pytest.raises(ExportFileError, match='model.json is missing'):
        read_sidecar(tmp_path / 'model.onnx')
    (tmp_path / 'model.json').write_text('{"model_size": "small"')
    with pytest.raises(ExportFileError, match='not a vjepa-export sidecar'):
        read_sidecar(tmp_path / 'model.engine')
    (tmp_path / 'model.json').write_text('{"model_size": "small", "frames": 4}')
    with pytest.raises(ExportFileError, match='not a vjepa-export sidecar'):
        read_sidecar(tmp_path / 'model.onnx')


def test_a_corrupt_onnx_file_is_refused_with_its_name(tmp_path):
    path = tmp_path / 'broken.onnx'
    path.write_bytes(b'not a protobuf at all')
    with pytest.raises(ExportFileError, match='onnxruntime cannot load .*broken.onnx'):
        OnnxRuntimeEncoder(path, ExportSpec('small', 4, 32, 48, 'fp32'))


SPECS = st.builds(ExportSpec, model_size=st.sampled_from(sorted(ENCODER_CONFIGS)),
                  frames=st.sampled_from([2, 8, 16]), height=st.sampled_from([32, 224, 256]),
                  width=st.sampled_from([32, 256, 288]),
                  precision=st.sampled_from(['fp32', 'fp16']),
                  batch=st.integers(1, 4), dynamic_batch=st.booleans(),
                  weights_digest=st.sampled_from(['a' * 64, 'b' * 64]))


@given(found=SPECS, expected=SPECS)
def test_mismatches_name_exactly_the_fields_that_differ(found, expected):
    problems = spec_mismatches(found, expected)
    named = {name for name in ('model_size', 'frames', 'precision', 'resolution', 'digest')
             if any(problem.startswith(name) or name in problem.split(' is ')[0]
                    for problem in problems)}
    differs = {'model_size': found.model_size != expected.model_size,
               'frames': found.frames != expected.frames,
               'precision': found.precision != expected.precision,
               'resolution': (found.height, found.width) != (expected.height, expected.width),
               'digest': found.weights_digest != expected.weights_digest}
    assert named == {name for name, differ in differs.items() if differ}
    batch_refused = any('batches of' in problem for problem in problems)
    assert batch_refused == (not found.dynamic_batch and found.batch != expected.batch)
    assert spec_mismatches(found, found) == []
    assert cache_keys_differ(found, expected) == (found != expected)


def cache_keys_differ(first: ExportSpec, second: ExportSpec) -> bool:
    return first.cache_key() != second.cache_key()


def test_export_cli_writes_a_checked_file_and_prints_the_engine_command(tmp_path, capsys):
    output = tmp_path / 'tiny.onnx'
    status = export.main(['--model-size', 'tiny', '--allow-random-weights', '--frames', '4',
                          '--resolution', '32x48', '--output', str(output)])
    out = capsys.readouterr()
    assert status == 0, out.err
    assert 'relative error against PyTorch fp32' in out.out
    assert 'trtexec --onnx=' in out.out and 'RANDOM WEIGHTS' in out.err
    assert 'exporting tiny for 4x32x48 clips in fp32' in out.err  # progress of the long steps
    sidecar = json.loads(sidecar_path(output).read_text())
    assert sidecar['parity_rel_error'] < FP32_PARITY and sidecar['random_weights']


@pytest.mark.parametrize(('arguments', 'message'), [
    (['--output', 'x.onnx'], 'one of the arguments --checkpoint --allow-random-weights'),
    (['--allow-random-weights', '--output', 'x.txt'], 'must end in .onnx'),
    (['--allow-random-weights', '--output', 'x.onnx', '--precision', 'bf16'], 'invalid choice'),
    (['--allow-random-weights', '--output', 'x.onnx', '--resolution', '0x4'], 'resolution'),
    (['--allow-random-weights', '--output', 'x.onnx', '--batch', '0'], 'at least 1'),
    (['--allow-random-weights', '--output', 'x.onnx', '--frames', '3'],
     '3 frames is not a positive multiple of 2'),
    (['--allow-random-weights', '--output', 'x.onnx', '--resolution', '250'],
     '250x250 pixels is not a multiple of 16'),
])
def test_export_cli_refuses_bad_arguments_before_any_work(arguments, message, capsys):
    with pytest.raises(SystemExit) as stopped:
        export.main(arguments)
    assert stopped.value.code == 2 and message in capsys.readouterr().err


def test_a_file_that_fails_the_check_gets_no_sidecar(tmp_path, monkeypatch, capsys):
    output = tmp_path / 'tiny.onnx'
    arguments = ['--model-size', 'tiny', '--allow-random-weights', '--frames', '2',
                 '--resolution', '32', '--output', str(output)]
    assert export.main(arguments) == 0 and sidecar_path(output).is_file()
    monkeypatch.setitem(PARITY_TOLERANCE, 'fp32', 0.0)  # no export can pass
    assert export.main(arguments) == 1  # over the old, checked file
    assert 'no sidecar is written' in capsys.readouterr().err
    assert output.is_file() and not sidecar_path(output).exists()


def test_export_cli_reports_a_missing_checkpoint(tmp_path, capsys):
    output = tmp_path / 'x.onnx'
    assert export.main(['--model-size', 'tiny', '--checkpoint', str(tmp_path / 'none.pt'),
                        '--output', str(output)]) == 2
    assert 'none.pt' in capsys.readouterr().err and not output.exists()
