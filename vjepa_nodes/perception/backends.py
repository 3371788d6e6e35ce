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
The detector's encoder backends: clip tensor in, tokens out, whatever runs them.

- torch: the PyTorch encoder through its fast path.
- onnxruntime: an exported file; without `engine_path`, the encoder is exported on the first
  clip of each shape into a cache directory keyed by the export's sidecar fields, so the next
  start with the same settings and weights loads it instead.
- tensorrt: an engine built from an exported file (see docs/DEPLOY_JETSON.md).
- mlx: the encoder in MLX (perception/mlx_backend), its converted weights cached.

A given file is refused, before anything runs, when its sidecar does not match the detector's
settings. Everything after the encoder (scoring, regions, heat map) is the same for all of them.
"""

import dataclasses
import logging
from pathlib import Path
import shutil
import tempfile
import threading
from typing import Protocol

import torch

from vjepa_nodes.device import precision_name, resolve_device_and_precision
from vjepa_nodes.encoder.build import build_encoder, RANDOM_WEIGHTS_SOURCE
from vjepa_nodes.encoder.cache_dirs import onnx_cache_dir, remove_stale_staging, STAGING_PREFIX
from vjepa_nodes.encoder.config import EncoderConfig, get_encoder_config
from vjepa_nodes.encoder.export_spec import (
    ExportFileError, ExportSpec, PARITY_TOLERANCE, read_sidecar, spec_mismatches)
from vjepa_nodes.encoder.fast_path import EncoderRunner
from vjepa_nodes.encoder.onnx_export import (
    check_and_seal, export_onnx, export_spec, weights_digest)
from vjepa_nodes.encoder.onnxruntime_encoder import import_onnxruntime, OnnxRuntimeEncoder
from vjepa_nodes.encoder.tensorrt_encoder import TensorRTEncoder
from vjepa_nodes.encoder.vit import VJepa2Encoder
from vjepa_nodes.perception.config import DetectorConfig

_logger = logging.getLogger('vjepa_nodes')
ONNX_FILE = 'encoder.onnx'


def backend_dtype(config: DetectorConfig, dtype: torch.dtype) -> torch.dtype:
    """
    Return the compute dtype for `config.backend` (a chosen one, not auto).

    Exported files hold fp32 or fp16, not bf16.
    """
    if config.backend == 'torch' or dtype != torch.bfloat16:
        return dtype
    if config.precision == 'auto':
        return torch.float16
    raise ValueError(f'backend {config.backend!r} runs fp32 or fp16 files; precision bf16 is '
                     'for the torch backend')


def resolve_compute(config: DetectorConfig) -> tuple[torch.device, torch.dtype]:
    """Return the device and dtype the detector hands `config.backend` (chosen) its clips in."""
    if config.backend == 'mlx':
        # MLX places the encoder itself (mlx_backend); preprocessing and scoring stay in
        # PyTorch on the CPU in fp32, which shares memory with the GPU on Apple silicon.
        return torch.device('cpu'), torch.float32
    device, dtype = resolve_device_and_precision(config.device, config.precision)
    return device, backend_dtype(config, dtype)


def compute_of(backend: 'EncoderBackend', device: torch.device,
               dtype: torch.dtype) -> tuple[str, str]:
    """Return where a backend's encoder runs and in which precision (MLX places its own)."""
    placement = getattr(backend, 'placement', None)
    if placement is not None:
        return f'mlx:{placement.device}', placement.precision
    return str(device), precision_name(dtype)


class EncoderBackend(Protocol):
    """What the detector needs from a backend."""

    name: str  # a BACKENDS entry
    description: str  # for logs and /diagnostics: provider, file, fast path
    encoder_config: EncoderConfig
    weights_source: str
    random_weights: bool
    batch_limit: int | None  # most clips per call (an exported file's fixed batch); None: any
    # True where each new batch size costs a preparation (compilation, graph capture, export):
    # the detector then pads batches to a few sizes.
    pads_batches: bool

    def __call__(self, clip: torch.Tensor) -> torch.Tensor:
        """Encode a normalised clip (B, 3, T, H, W) in the detector's dtype into tokens."""


def build_backend(config: DetectorConfig, device: torch.device,
                  dtype: torch.dtype) -> EncoderBackend:
    """Return the backend `config.backend` names, loaded and checked, for `device` and `dtype`."""
    if config.backend in ('torch', 'mlx') and config.engine_path:
        _logger.warning(f'engine_path {config.engine_path} is not used: backend is '
                        f'{config.backend} (set backend to onnxruntime or tensorrt to run it)')
    if config.backend == 'torch':
        return TorchBackend(config, device, dtype)
    if config.backend == 'onnxruntime':
        if config.engine_path:
            return FileBackend(config, device, dtype)
        return CachedOnnxBackend(config, dtype)
    if config.backend == 'mlx':
        return _mlx_backend(config)
    if config.backend == 'tensorrt':
        if not config.engine_path:
            raise ValueError('backend tensorrt needs engine_path: an engine built with the '
                             'trtexec command vjepa-export prints (docs/DEPLOY_JETSON.md)')
        return FileBackend(config, device, dtype)
    raise ValueError(f'unknown backend {config.backend!r}')


def _mlx_backend(config: DetectorConfig) -> EncoderBackend:
    """Place the encoder in MLX (refusing an impossible placement), then load and convert."""
    from vjepa_nodes.perception import mlx_backend  # ImportError saying what to install
    placement = mlx_backend.select_mlx_placement(config.device, config.precision,
                                                 config.fast_path, mlx_backend.mlx_gpu_kind())
    return mlx_backend.MlxBackend(
        _build_torch_encoder(config), config.model_size, placement,
        Path(config.cache_dir).expanduser() if config.cache_dir else None)


def _build_torch_encoder(config: DetectorConfig) -> VJepa2Encoder:
    return build_encoder(config.model_size, model_version=config.model_version,
                         checkpoint=config.checkpoint, checkpoint_key=config.checkpoint_entry,
                         allow_random_weights=config.allow_random_weights)


class TorchBackend:
    """The PyTorch encoder on the detector's device, through its fast path."""

    name = 'torch'
    batch_limit = None

    def __init__(self, config: DetectorConfig, device: torch.device, dtype: torch.dtype) -> None:
        self.encoder = _build_torch_encoder(config).to(device, dtype)
        self.runner = EncoderRunner(self.encoder, config.fast_path)
        self.encoder_config: EncoderConfig = self.encoder.config
        self.weights_source = self.encoder.weights_source
        self.random_weights = self.weights_source == RANDOM_WEIGHTS_SOURCE

    @property
    def description(self) -> str:
        return f'torch, fast path {self.runner.fast_path.name}'

    @property
    def pads_batches(self) -> bool:
        fast_path = self.runner.fast_path
        return fast_path.compile_model or fast_path.cuda_graph

    def __call__(self, clip: torch.Tensor) -> torch.Tensor:
        return self.runner(clip)


def _needed_spec(config: DetectorConfig, dtype: torch.dtype, digest: str) -> ExportSpec:
    """Return the export the detector needs (the resolution: center_crop's img_size square)."""
    return ExportSpec(model_size=config.model_size, model_version=config.model_version,
                      frames=config.num_frames,
                      height=config.img_size, width=config.img_size,
                      precision=precision_name(dtype), weights_digest=digest)


class FileBackend:
    """A given exported file: an .onnx in ONNX Runtime, or a TensorRT engine."""

    def __init__(self, config: DetectorConfig, device: torch.device, dtype: torch.dtype) -> None:
        path = Path(config.engine_path).expanduser()
        self.name = config.backend
        if not path.is_file():
            raise ExportFileError(f'engine_path {path} does not exist')
        spec = read_sidecar(path)
        digest = ''
        if config.checkpoint:  # the file must hold these weights
            digest = weights_digest(_build_torch_encoder(config))
        # The clip's resolution follows the camera (resize_mode full): checked on each clip.
        problems = spec_mismatches(spec, _needed_spec(config, dtype, digest),
                                   check_resolution=config.resize_mode == 'center_crop',
                                   check_digest=bool(digest))
        if spec.random_weights and not config.allow_random_weights:
            problems.append('it holds random weights (scores meaningless): set '
                            'allow_random_weights to run it anyway')
        if problems:
            raise ExportFileError(f'refusing {path}: ' + '; '.join(problems))
        self.encoder_config = get_encoder_config(spec.model_size, spec.model_version)
        self.weights_source = f'{spec.weights_source} (in {path.name})'
        self.random_weights = spec.random_weights
        # The trtexec command vjepa-export prints builds an engine for --batch only.
        dynamic = spec.dynamic_batch and config.backend == 'onnxruntime'
        self.batch_limit = None if dynamic else spec.batch
        self.pads_batches = False
        if config.backend == 'tensorrt':
            self.run = TensorRTEncoder(path, spec, device)
            self.description = f'tensorrt, {path.name}'
        else:
            self.run = OnnxRuntimeEncoder(path, spec)
            self.description = f'onnxruntime on {self.run.provider}, {path.name}'

    def __call__(self, clip: torch.Tensor) -> torch.Tensor:
        return self.run(clip)


class CachedOnnxBackend:
    """
    ONNX Runtime on an encoder this backend exports itself, once per clip shape, into a cache.

    The PyTorch encoder is kept only until the first file is ready; a later clip shape that is
    not cached yet (a camera with another size) loads it again from the checkpoint. A shape
    whose export failed is not tried again on every clip: it fails at once, with the reason.
    """

    name = 'onnxruntime'
    batch_limit = None
    pads_batches = False  # one camera: batch 1 only; several: one export takes any batch

    def __init__(self, config: DetectorConfig, dtype: torch.dtype) -> None:
        import_onnxruntime()  # say what to install before loading weights
        self.config = config
        self.cache_dir = Path(config.cache_dir).expanduser() if config.cache_dir else (
            onnx_cache_dir())
        self._encoder: VJepa2Encoder | None = _build_torch_encoder(config)
        # The clip's size follows the camera; each clip shape replaces height and width.
        # Several cameras send batches of any size up to max_batch: one export takes them all.
        self._spec = export_spec(self._encoder, config.model_size, config.num_frames,
                                 config.img_size, config.img_size, precision_name(dtype),
                                 dynamic_batch=len(config.cameras) > 1)
        self.encoder_config = self._encoder.config
        self.weights_source = self._encoder.weights_source
        self.random_weights = self._spec.random_weights
        self.description = f'onnxruntime (exports into {self.cache_dir} on the first clip)'
        self._runs: dict[tuple[int, ...], OnnxRuntimeEncoder] = {}
        self._failures: dict[tuple[int, ...], str] = {}
        self._lock = threading.Lock()
        remove_stale_staging(self.cache_dir)

    def __call__(self, clip: torch.Tensor) -> torch.Tensor:
        shape = tuple(clip.shape)[1:] if self._spec.dynamic_batch else tuple(clip.shape)
        with self._lock:
            if shape in self._failures:
                raise ExportFileError(f'{self._failures[shape]} (on an earlier clip of this '
                                      'shape; configure the detector again to retry)')
            if shape not in self._runs:
                try:
                    self._runs[shape] = self._load_or_export(shape)
                except Exception as error:  # noqa: B902 - remembered, then raised as it came
                    self._failures[shape] = f'{type(error).__name__}: {error}'
                    raise
                self._encoder = None  # free the PyTorch copy of the weights
            run = self._runs[shape]
        return run(clip)

    def _load_or_export(self, shape: tuple[int, ...]) -> OnnxRuntimeEncoder:
        """Return the runner of a clip shape (without the batch, for a dynamic-batch export)."""
        batch = 1 if self._spec.dynamic_batch else shape[0]
        spec = dataclasses.replace(self._spec, batch=batch, height=shape[-2], width=shape[-1])
        target = self.cache_dir / spec.cache_key()
        if (target / ONNX_FILE).is_file():
            try:
                run = self._load(target, spec)
                _logger.info(f'onnxruntime: reusing the encoder exported to {target}')
                self.description = f'onnxruntime on {run.provider}, cached {target.name}'
                return run
            except ExportFileError as error:
                _logger.warning(f'exporting again: the cached encoder is unusable ({error})')
        encoder = self._encoder or self._rebuild()
        self._export(encoder, spec, target)
        run = self._load(target, spec)
        self.description = f'onnxruntime on {run.provider}, exported {target.name}'
        return run

    @staticmethod
    def _load(target: Path, spec: ExportSpec) -> OnnxRuntimeEncoder:
        problems = spec_mismatches(read_sidecar(target / ONNX_FILE), spec)
        if problems:
            raise ExportFileError(f'{target}: ' + '; '.join(problems))
        return OnnxRuntimeEncoder(target / ONNX_FILE, spec)

    def _rebuild(self) -> VJepa2Encoder:
        encoder = _build_torch_encoder(self.config)
        if weights_digest(encoder) != self._spec.weights_digest:
            raise ExportFileError('the checkpoint changed since the detector was configured: '
                                  'configure it again')
        return encoder

    def _export(self, encoder: VJepa2Encoder, spec: ExportSpec, target: Path) -> None:
        """Export into a fresh directory, check it, then move it into place in one rename."""
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=target.parent))
        try:
            path = export_onnx(encoder, spec, staging / ONNX_FILE)
            error = check_and_seal(encoder, path, spec)  # as vjepa-export checks its files
            if not error <= PARITY_TOLERANCE[spec.precision]:
                raise ExportFileError(
                    f'the exported encoder differs from PyTorch by {error:.1e} (relative), more '
                    f'than the {PARITY_TOLERANCE[spec.precision]:.0e} allowed in '
                    f'{spec.precision}: not used')
            _logger.info(f'exported encoder matches PyTorch to {error:.1e} (relative)')
            shutil.rmtree(target, ignore_errors=True)
            try:
                staging.rename(target)
            except OSError:  # another process put its export there first: _load checks it
                _logger.info(f'another process exported {target.name} meanwhile; using it')
        finally:
            shutil.rmtree(staging, ignore_errors=True)
