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
digest, which keys the cache, and then dropped.
"""

from dataclasses import dataclass
import logging
from pathlib import Path

import numpy as np
import torch

from vjepa_nodes.device import DeviceUnavailableError
from vjepa_nodes.encoder.download import cache_root
from vjepa_nodes.encoder.export_spec import ExportFileError
from vjepa_nodes.encoder.mlx_vit import MLX_DTYPES, MlxVJepaEncoder, mx
from vjepa_nodes.encoder.mlx_weights import (
    convert_weights, load_weights, mlx_encoder, MlxWeightsSpec, save_weights, WEIGHTS_FILE,
    weights_spec)
from vjepa_nodes.encoder.onnx_export import weights_digest
from vjepa_nodes.encoder.rope import rope_tables
from vjepa_nodes.encoder.vit import clip_token_grid, VJepa2Encoder

_logger = logging.getLogger('vjepa_nodes')
GPU_NAMES = {'metal': 'Metal', 'cuda': 'CUDA'}


def default_cache_dir() -> Path:
    """~/.cache/vjepa_nodes/mlx, or under $XDG_CACHE_HOME when that is set."""
    return cache_root() / 'mlx'


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
    kind = device.partition(':')[0]
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
        self.device = mx.gpu if device == 'gpu' else mx.cpu
        self._forward = mx.compile(model) if compile_model else model
        self._rope: dict[tuple[int, int, int], tuple[mx.array, mx.array]] = {}

    @classmethod
    def from_torch(cls, encoder: VJepa2Encoder, precision: str = 'fp32',
                   device: str = 'cpu') -> 'MlxEncoderRunner':
        """Convert a PyTorch encoder's weights (no cache): for checks and benchmarks."""
        with mx.stream(mx.gpu if device == 'gpu' else mx.cpu):
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
    """The encoder in MLX, its weights from the cache or converted into it."""

    name = 'mlx'
    batch_limit = None

    def __init__(self, encoder: VJepa2Encoder, model_size: str, placement: MlxPlacement,
                 cache_dir: Path | None = None, random_weights: bool = False) -> None:
        self.placement = placement
        self.encoder_config = encoder.config
        self.weights_source = encoder.weights_source
        self.random_weights = random_weights
        self.cache_dir = cache_dir or default_cache_dir()
        spec = weights_spec(encoder, model_size, placement.precision, weights_digest(encoder),
                            random_weights)
        self.cache_path = self.cache_dir / spec.cache_key() / WEIGHTS_FILE
        with mx.stream(mx.gpu if placement.device == 'gpu' else mx.cpu):
            model, how = self._load_or_convert(encoder, spec)
        self.run = MlxEncoderRunner(model, placement.precision, placement.device,
                                    placement.compile_model)
        self.description = f'{placement.description}, weights {how} {self.cache_path.parent}'

    @property
    def pads_batches(self) -> bool:
        return self.placement.compile_model  # mx.compile traces each input shape once

    def _load_or_convert(self, encoder: VJepa2Encoder,
                         spec: MlxWeightsSpec) -> tuple[MlxVJepaEncoder, str]:
        if self.cache_path.is_file():
            try:
                model = load_weights(self.cache_path, spec, encoder.config)
                _logger.info(f'mlx: reusing the weights converted to {self.cache_path}')
                return model, 'cached in'
            except ExportFileError as error:
                _logger.warning(f'mlx: converting again, the cached weights are unusable '
                                f'({error})')
        state = convert_weights(encoder, spec.precision)
        model = mlx_encoder(encoder.config, state)
        save_weights(self.cache_path.parent, state, spec)
        _logger.info(f'mlx: weights converted to {spec.precision} and cached in '
                     f'{self.cache_path}')
        return model, 'converted into'

    def __call__(self, clip: torch.Tensor) -> torch.Tensor:
        """Encode a normalised clip (B, 3, T, H, W) into fp32 tokens (B, N, D) on the CPU."""
        return self.run(clip)
