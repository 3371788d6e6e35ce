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

"""Detector backends: exported files are checked before use; the cache exports once."""

import importlib.util
import json
import logging
import os

from checkpoint_files import official_checkpoint, perturb_vectors
import pytest
import torch
from vjepa_nodes.encoder.build import build_encoder
from vjepa_nodes.encoder.cache_dirs import onnx_cache_dir
from vjepa_nodes.encoder.export_spec import (
    ExportFileError, PARITY_TOLERANCE, sidecar_path, write_sidecar)
from vjepa_nodes.encoder.onnx_export import export_onnx, export_spec
from vjepa_nodes.encoder.tensorrt_encoder import import_tensorrt
from vjepa_nodes.perception.backends import backend_dtype
from vjepa_nodes.perception.config import DetectorConfig
from vjepa_nodes.perception.detector import ObstacleDetector

# 320x240 frames at img_size 64, resize_mode full: 48x80 clips (H x W) of 4 frames.
SETTINGS = {'model_size': 'tiny', 'img_size': 64, 'num_frames': 4, 'stride': 2, 'device': 'cpu'}
CLIP = (4, 48, 48)  # frames, height, width: center_crop at img_size 48, the tests' exports


def export_tiny(tmp_path, name='tiny', precision='fp32', encoder=None, clip=CLIP, **kwargs):
    encoder = encoder or build_encoder('tiny', allow_random_weights=True)
    spec = export_spec(encoder, 'tiny', *clip, precision, **kwargs)
    path = export_onnx(encoder, spec, tmp_path / f'{name}.onnx')
    write_sidecar(path, spec)
    return path


def detector(**settings):
    return ObstacleDetector(config=DetectorConfig(**{**SETTINGS, **settings}))


def test_a_matching_onnx_file_runs_and_says_what_it_is(tmp_path):
    path = export_tiny(tmp_path)
    onnx = detector(backend='onnxruntime', engine_path=str(path), img_size=48,
                    resize_mode='center_crop', allow_random_weights=True)
    assert onnx.backend.description == 'onnxruntime on CPUExecutionProvider, tiny.onnx'
    assert onnx.backend.random_weights and 'tiny.onnx' in onnx.backend.weights_source
    clip = torch.randn(1, 3, *CLIP)
    expected = build_encoder('tiny', allow_random_weights=True)(clip)
    assert torch.allclose(onnx.backend(clip), expected, atol=1e-5)


@pytest.mark.parametrize(('settings', 'message'), [
    ({'model_size': 'small'}, 'model_size is tiny in the file but the detector needs small'),
    ({'num_frames': 8}, 'frames is 4 in the file but the detector needs 8'),
    ({'precision': 'fp16'}, 'precision is fp32 in the file but the detector needs fp16'),
    ({'img_size': 64}, 'resolution is 48x48 in the file but the detector needs 64x64'),
    ({'allow_random_weights': False}, 'it holds random weights'),
])
def test_a_file_made_for_other_settings_is_refused_naming_the_mismatch(tmp_path, settings,
                                                                       message):
    path = export_tiny(tmp_path)
    config = {'backend': 'onnxruntime', 'engine_path': str(path), 'img_size': 48,
              'resize_mode': 'center_crop', 'allow_random_weights': True, **settings}
    with pytest.raises(ExportFileError, match=f'refusing .*tiny.onnx: .*{message}'):
        detector(**config)


def test_the_weights_digest_is_checked_when_a_checkpoint_is_given(tmp_path):
    first, second = (perturb_vectors(build_encoder('tiny', allow_random_weights=True))
                     for _ in range(2))
    for name, encoder in (('first', first), ('second', second)):
        torch.save(official_checkpoint(encoder.state_dict(), encoder.state_dict()),
                   tmp_path / f'{name}.pt')
    from_first = build_encoder('tiny', checkpoint=tmp_path / 'first.pt')
    path = export_tiny(tmp_path, encoder=from_first)
    config = {'backend': 'onnxruntime', 'engine_path': str(path), 'img_size': 48,
              'resize_mode': 'center_crop'}
    assert detector(**config, checkpoint=str(tmp_path / 'first.pt')).backend.description
    with pytest.raises(ExportFileError, match='weights digest is .* but the detector needs'):
        detector(**config, checkpoint=str(tmp_path / 'second.pt'))
    # Without a checkpoint the file's own (pretrained) weights run, named as their source.
    assert 'first.pt' in detector(**config).backend.weights_source


def test_missing_and_corrupt_files_are_refused_before_anything_runs(tmp_path):
    settings = {'backend': 'onnxruntime', 'allow_random_weights': True}
    with pytest.raises(ExportFileError, match='engine_path .*none.onnx does not exist'):
        detector(**settings, engine_path=str(tmp_path / 'none.onnx'))
    path = export_tiny(tmp_path)
    path.write_bytes(path.read_bytes()[:100])  # truncated
    with pytest.raises(ExportFileError, match='onnxruntime cannot load .*tiny.onnx'):
        detector(**settings, engine_path=str(path))
    sidecar_path(path).unlink()
    with pytest.raises(ExportFileError, match='tiny.json is missing'):
        detector(**settings, engine_path=str(path))


def test_a_clip_of_another_resolution_is_refused_with_the_export_to_make(tmp_path):
    # resize_mode full: the resolution follows the camera, so it is checked on each clip.
    path = export_tiny(tmp_path)
    onnx = detector(backend='onnxruntime', engine_path=str(path), allow_random_weights=True)
    for index in range(4):
        onnx.add_frame(torch.zeros(240, 320, 3, dtype=torch.uint8).numpy(), index / 10)
    with pytest.raises(ValueError, match='--frames 4 --resolution 48x80'):
        onnx.detect()


@pytest.mark.skipif(importlib.util.find_spec('tensorrt') is not None,
                    reason='tests the message shown where TensorRT is not installed')
def test_tensorrt_says_what_it_needs(tmp_path):
    with pytest.raises(ValueError, match='backend tensorrt needs engine_path'):
        detector(backend='tensorrt', allow_random_weights=True)
    path = export_tiny(tmp_path)
    engine = path.with_suffix('.engine')
    engine.write_bytes(b'engine')
    settings = {'backend': 'tensorrt', 'engine_path': str(engine), 'img_size': 48,
                'resize_mode': 'center_crop', 'allow_random_weights': True}
    with pytest.raises(ValueError, match='runs on a CUDA device, not cpu'):
        detector(**settings)
    if torch.cuda.is_available():
        with pytest.raises(ImportError, match="needs NVIDIA's tensorrt Python package"):
            detector(**{**settings, 'device': 'cuda'})
    with pytest.raises(ExportFileError, match='precision is fp32 in the file but the detector '
                                              'needs fp16'):
        detector(**{**settings, 'precision': 'fp16'})


def test_exported_files_run_fp32_or_fp16_and_auto_never_picks_bf16():
    auto = DetectorConfig(backend='onnxruntime')
    assert backend_dtype(auto, torch.bfloat16) == torch.float16
    assert backend_dtype(auto, torch.float32) == torch.float32
    assert backend_dtype(DetectorConfig(backend='torch'), torch.bfloat16) == torch.bfloat16
    with pytest.raises(ValueError, match='precision bf16 is for the torch backend'):
        backend_dtype(DetectorConfig(backend='tensorrt', precision='bf16'), torch.bfloat16)


def run_clip(onnx, start=0.0):
    for index in range(4):
        onnx.add_frame(torch.randint(0, 255, (240, 320, 3), dtype=torch.uint8).numpy(),
                       start + index / 10)
    return onnx.detect()


def test_the_cache_exports_on_the_first_clip_and_a_second_start_reuses_it(tmp_path, caplog):
    settings = {'backend': 'onnxruntime', 'cache_dir': str(tmp_path),
                'allow_random_weights': True}
    with caplog.at_level(logging.INFO, logger='vjepa_nodes'):
        first = detector(**settings)
        assert not any(tmp_path.iterdir())  # nothing exported before the first clip
        assert run_clip(first) is not None
    exported = list(tmp_path.glob('*/encoder.onnx'))
    assert [path.parent.name[:18] for path in exported] == ['tiny_4x48x80_fp32_']  # one file
    assert 'exported tiny_4x48x80_fp32_' in first.backend.description
    assert 'matches PyTorch to' in caplog.text
    assert json.loads(sidecar_path(exported[0]).read_text())['parity_rel_error'] < 1e-5
    modified = exported[0].stat().st_mtime_ns
    second = detector(**settings)
    run_clip(second)
    assert 'cached tiny_4x48x80_fp32_' in second.backend.description
    assert exported[0].stat().st_mtime_ns == modified
    # A damaged cache entry is exported again, not used and not fatal.
    exported[0].write_bytes(b'damaged')
    third = detector(**settings)
    with caplog.at_level(logging.WARNING, logger='vjepa_nodes'):
        assert run_clip(third) is not None
    assert 'exporting again: the cached encoder is unusable' in caplog.text
    assert 'exported tiny_4x48x80_fp32_' in third.backend.description


def test_the_cache_never_runs_random_weights_unasked_and_defaults_to_the_user_cache(
        monkeypatch, tmp_path):
    with pytest.raises(ValueError, match='no checkpoint given'):
        detector(backend='onnxruntime', cache_dir=str(tmp_path))
    monkeypatch.setenv('XDG_CACHE_HOME', str(tmp_path / 'xdg'))
    assert onnx_cache_dir() == tmp_path / 'xdg' / 'vjepa_nodes' / 'onnx'
    monkeypatch.delenv('XDG_CACHE_HOME')
    monkeypatch.setenv('HOME', str(tmp_path))
    assert onnx_cache_dir() == tmp_path / '.cache' / 'vjepa_nodes' / 'onnx'


def test_a_failed_export_is_remembered_and_leaves_nothing_behind(tmp_path, monkeypatch):
    monkeypatch.setitem(PARITY_TOLERANCE, 'fp32', 0.0)  # no export can pass
    onnx = detector(backend='onnxruntime', cache_dir=str(tmp_path), allow_random_weights=True)
    with pytest.raises(ExportFileError, match='differs from PyTorch by .* not used'):
        run_clip(onnx)
    with pytest.raises(ExportFileError, match='on an earlier clip of this shape; configure'):
        run_clip(onnx, start=0.5)  # at once: not another export
    assert list(tmp_path.iterdir()) == []  # no staging folder, no cache entry


@pytest.mark.parametrize('sidecar', ['[1]', '{"model_size": "tiny", "frames": "4"}', ''])
def test_a_cache_entry_with_a_bad_sidecar_is_exported_again(tmp_path, caplog, sidecar):
    settings = {'backend': 'onnxruntime', 'cache_dir': str(tmp_path),
                'allow_random_weights': True}
    run_clip(detector(**settings))
    (entry,) = tmp_path.glob('*/encoder.json')
    entry.write_text(sidecar)
    with caplog.at_level(logging.WARNING, logger='vjepa_nodes'):
        assert run_clip(detector(**settings)) is not None
    assert 'exporting again: the cached encoder is unusable' in caplog.text
    assert json.loads(entry.read_text())['frames'] == 4


def test_stale_half_written_exports_are_removed(tmp_path):
    stale, fresh = tmp_path / '.export-stale', tmp_path / '.export-busy'
    for folder in (stale, fresh):
        folder.mkdir()
    os.utime(stale, (0, 0))
    detector(backend='onnxruntime', cache_dir=str(tmp_path), allow_random_weights=True)
    assert not stale.exists() and fresh.exists()  # another process may be writing that one


def test_a_sidecar_of_another_file_is_caught_by_the_file_itself(tmp_path):
    path = export_tiny(tmp_path)
    other = export_tiny(tmp_path, name='other', clip=(2, 48, 48))
    sidecar_path(path).write_text(sidecar_path(other).read_text())  # says 2 frames
    with pytest.raises(ExportFileError, match='do not belong together'):
        detector(backend='onnxruntime', engine_path=str(path), num_frames=2, img_size=48,
                 resize_mode='center_crop', allow_random_weights=True)


@pytest.mark.skipif(importlib.util.find_spec('tensorrt') is not None,
                    reason='tests the message shown where TensorRT is not installed')
def test_without_tensorrt_the_error_says_what_to_install():
    with pytest.raises(ImportError, match="needs NVIDIA's tensorrt Python package: on a Jetson"):
        import_tensorrt()
