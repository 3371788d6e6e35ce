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
The mlx backend: the encoder in MLX (Metal on a Mac), weights converted once into a cache.

Preprocessing and scoring stay in PyTorch on the CPU in fp32 (on Apple silicon the CPU and the
GPU share memory, so the hand-over is a copy in RAM, not a transfer); only the encoder runs in
MLX, on MLX's device and in MLX's precision. The PyTorch weights are loaded to compute their
digest, which keys the cache, and to check a fresh conversion against; then they are dropped.

Threads: the weights are evaluated where they are loaded (configure), so no lazy MLX graph
crosses into the inference thread, which then uses its own default stream (MLX >= 0.31.2).
"""

from dataclasses import dataclass
import logging
from pathlib import Path

import numpy as np
import torch

from vjepa_nodes.device import DeviceUnavailableError
from vjepa_nodes.encoder.build import RANDOM_WEIGHTS_SOURCE
from vjepa_nodes.encoder.cache_dirs import mlx_cache_dir, remove_stale_staging
from vjepa_nodes.encoder.export_spec import ExportFileError
from vjepa_nodes.encoder.mlx_vit import MLX_DTYPES, MlxVJepaEncoder, mx
from vjepa_nodes.encoder.mlx_weights import (
    convert_weights, load_weights, mlx_encoder, MlxWeightsSpec, save_weights, WEIGHTS_FILE,
    weights_spec)
from vjepa_nodes.encoder.onnx_export import relative_error, weights_digest
from vjepa_nodes.encoder.rope import rope_tables
from vjepa_nodes.encoder.vit import clip_token_grid, VJepa2Encoder

_logger = logging.getLogger('vjepa_nodes')
GPU_NAMES = {'metal': 'Metal', 'cuda': 'CUDA'}
# Relative error against PyTorch fp32 that a fresh conversion must stay within to be cached and
# used (measured: ~1e-6 in fp32, ~1e-3 in fp16, ~1e-2 in bf16; see docs/DEPLOY_MAC.md).
PARITY_TOLERANCE = {'fp32': 1e-4, 'fp16': 1e-2, 'bf16': 5e-2}


def mlx_device(name: str):
    """Return MLX's device for a placement's 'gpu' or 'cpu'."""
    return mx.gpu if name == 'gpu' else mx.cpu


def mlx_gpu_kind() -> str:
    """Return 'metal' or 'cuda' for the GPU this MLX build drives, '' for a CPU-only build."""
    if not mx.is_available(mx.gpu):
        return ''
    return 'metal' if mx.metal.is_available() else 'cuda'


@dataclass(frozen=True)
class MlxPlacement:
    """Where and how MLX runs the encoder."""

    device: str  # 'gpu' or 'cpu'
    precision: str  # an MLX_DTYPES key
    compile_model: bool  # mx.compile the forward
    gpu_kind: str = ''  # 'metal' or 'cuda' when device is 'gpu'

    @property
    def description(self) -> str:
        where = f'gpu ({GPU_NAMES[self.gpu_kind]})' if self.device == 'gpu' else 'cpu'
        return (f'mlx on {where} in {self.precision}, '
                f'{"mx.compile" if self.compile_model else "not compiled"}')


def select_mlx_placement(device: str, precision: str, fast_path: str,
                         gpu_kind: str) -> MlxPlacement:
    """
    Map the detector's device, precision and fast_path settings onto MLX (a pure function).

    device: auto = MLX's GPU when it has one, else the CPU; mps = the Metal GPU; cuda = the GPU
    of MLX's CUDA build; cpu. precision auto: fp16 on the GPU (as on MPS; bf16 matmuls are
    reported slower on M1/M2), fp32 on the CPU. fast_path auto: mx.compile on the GPU; on the
    CPU it measured no faster (docs/DEPLOY_MAC.md). An unavailable choice raises, saying why.
    """
    kind, _, index = device.partition(':')
    if index not in ('', '0'):
        raise DeviceUnavailableError(f'device {device!r}: backend mlx runs on its default GPU '
                                     'only; use cuda (or cuda:0), auto or cpu')
    wanted_gpu = {'mps': 'metal', 'cuda': 'cuda'}.get(kind)
    if wanted_gpu and gpu_kind != wanted_gpu:
        have = f'drives {GPU_NAMES[gpu_kind]}' if gpu_kind else 'is CPU-only'
        raise DeviceUnavailableError(
            f'device {device!r} was requested for backend mlx, but this MLX build {have} (MLX '
            'runs on Metal on a Mac, on CUDA with mlx-cuda); use auto or cpu')
    if kind not in ('auto', 'mps', 'cuda', 'cpu'):
        raise ValueError(f'unknown device {device!r} for backend mlx; choose auto, mps, cuda '
                         'or cpu')
    on_gpu = bool(wanted_gpu) or (kind == 'auto' and bool(gpu_kind))
    if precision == 'auto':
        precision = 'fp16' if on_gpu else 'fp32'
    if fast_path not in ('auto', 'none', 'compile'):
        raise ValueError(f'fast_path {fast_path!r} is for PyTorch on CUDA; backend mlx takes '
                         'auto, none or compile (mx.compile)')
    compile_model = fast_path == 'compile' or (fast_path == 'auto' and on_gpu)
    return MlxPlacement('gpu' if on_gpu else 'cpu', precision, compile_model,
                        gpu_kind if on_gpu else '')


class MlxEncoderRunner:
    """An MLX encoder on one MLX device: normalised fp32 clip in, fp32 tokens out (on the CPU)."""

    def __init__(self, model: MlxVJepaEncoder, precision: str, device: str = 'cpu',
                 compile_model: bool = False) -> None:
        self.config = model.config
        self.precision = precision
        self.device = mlx_device(device)
        self._forward = mx.compile(model) if compile_model else model
        self._rope: dict[tuple[int, int, int], tuple[mx.array, mx.array]] = {}

    @classmethod
    def from_torch(cls, encoder: VJepa2Encoder, precision: str = 'fp32',
                   device: str = 'cpu') -> 'MlxEncoderRunner':
        """Convert a PyTorch encoder's weights (no cache): for checks and benchmarks."""
        with mx.stream(mlx_device(device)):
            model = mlx_encoder(encoder.config, convert_weights(encoder, precision))
        return cls(model, precision, device)

    def _rope_tables(self, grid: tuple[int, int, int]) -> tuple[mx.array, mx.array]:
        if grid not in self._rope:
            config = self.config
            cos, sin = rope_tables(grid, config.head_dim, config.rope_theta, torch.device('cpu'),
                                   config.rope_pairing, config.rope_pretrain_grid)  # fp32
            self._rope[grid] = (mx.array(cos.numpy()), mx.array(sin.numpy()))
        return self._rope[grid]

    def __call__(self, clip: torch.Tensor) -> torch.Tensor:
        """Encode a normalised clip (B, 3, T, H, W) into fp32 tokens (B, N, D) on the CPU."""
        grid = clip_token_grid(self.config, clip.shape)
        with mx.stream(self.device):
            pixels = mx.array(clip.detach().to('cpu', torch.float32).numpy())
            tokens = self._forward(pixels.astype(MLX_DTYPES[self.precision]),
                                   *self._rope_tables(grid))
            tokens = tokens.astype(mx.float32)
            mx.eval(tokens)
        return torch.from_numpy(np.array(tokens))


class MlxBackend:
    """The encoder in MLX, its weights from the cache or converted, checked, then cached."""

    name = 'mlx'
    batch_limit = None

    def __init__(self, encoder: VJepa2Encoder, model_size: str, placement: MlxPlacement,
                 cache_dir: Path | None = None) -> None:
        self.placement = placement
        self.encoder_config = encoder.config
        self.weights_source = encoder.weights_source
        self.random_weights = encoder.weights_source == RANDOM_WEIGHTS_SOURCE
        self.cache_dir = cache_dir or mlx_cache_dir()
        remove_stale_staging(self.cache_dir)
        spec = weights_spec(encoder, model_size, placement.precision, weights_digest(encoder),
                            self.random_weights)
        self.cache_path = self.cache_dir / spec.cache_key() / WEIGHTS_FILE
        with mx.stream(mlx_device(placement.device)):
            self.run, how = self._load_or_convert(encoder, spec)
        self.description = f'{placement.description}, weights {how} {self.cache_path.parent}'

    @property
    def pads_batches(self) -> bool:
        return self.placement.compile_model  # mx.compile traces each input shape once

    def _runner(self, model: MlxVJepaEncoder) -> MlxEncoderRunner:
        placement = self.placement
        return MlxEncoderRunner(model, placement.precision, placement.device,
                                placement.compile_model)

    def _load_or_convert(self, encoder: VJepa2Encoder,
                         spec: MlxWeightsSpec) -> tuple[MlxEncoderRunner, str]:
        if self.cache_path.is_file():
            try:
                model = load_weights(self.cache_path, spec, encoder.config)
                _logger.info(f'mlx: reusing the weights converted to {self.cache_path}')
                return self._runner(model), 'cached in'
            except ExportFileError as error:
                _logger.warning(f'mlx: converting again, the cached weights are unusable '
                                f'({error})')
        state = convert_weights(encoder, spec.precision)
        run = self._runner(mlx_encoder(encoder.config, state))
        error = parity_error(run, encoder)
        tolerance = PARITY_TOLERANCE[spec.precision]
        if not error <= tolerance:
            raise ExportFileError(
                f'the MLX encoder differs from PyTorch by {error:.1e} (relative), more than the '
                f'{tolerance:.0e} allowed in {spec.precision}: not used (try another precision '
                'or backend torch)')
        save_weights(self.cache_path, state, spec, parity_rel_error=error)
        _logger.info(f'mlx: weights converted to {spec.precision}, matching PyTorch to '
                     f'{error:.1e} (relative), cached in {self.cache_path}')
        return run, 'converted into'

    def __call__(self, clip: torch.Tensor) -> torch.Tensor:
        """Encode a normalised clip (B, 3, T, H, W) into fp32 tokens (B, N, D) on the CPU."""
        return self.run(clip)


def parity_error(run: MlxEncoderRunner, encoder: VJepa2Encoder, seed: int = 0) -> float:
    """
    Return ||MLX - PyTorch fp32|| / ||PyTorch fp32|| on a random two-tubelet 2x2-patch clip.

    Small enough for ViT-G on a CPU, and every weight takes part. Not finite: infinite error.
    """
    config = encoder.config
    shape = (1, config.in_chans, 2 * config.tubelet_size, 2 * config.patch_size,
             2 * config.patch_size)
    clip = torch.randn(shape, generator=torch.Generator().manual_seed(seed))
    with torch.inference_mode():
        expected = encoder(clip.to(encoder.patch_embed.proj.weight.dtype))
    return relative_error(run(clip), expected)
