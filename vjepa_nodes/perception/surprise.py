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
Surprise: how badly the V-JEPA predictor foresaw the newest part of a clip.

The clip is split in time: context = its earlier tubelets, targets = its newest
`horizon` tubelets. The encoder sees the context frames alone, as in training (tokens of the
full clip have attended to the future), the predictor guesses the target tokens from them, and
the guess is compared with the encoder's tokens of the full clip at the targets, layer-normed
without affine parameters as in the training loss. The error per token is the mean absolute
difference over channels; averaged over the target tubelets it is an (h, w) map. Motion the
predictor expected (the scene flowing past a moving camera, after training on such clips) costs
little; something it could not foresee costs much, where it appears.

Context and targets come from the same encoder weights, the detector's: the full-clip pass is
then shared with the motion score. Training paired the context encoder with an EMA copy for
targets; predictors from vjepa-train-predictor are trained the way they are used here.

The map becomes scores like the motion map does: activation 1 - exp(-excess / surprise_scale)
for the error in excess of `surprise_baseline` (the error of an ordinary clip), and its means
over the view and its thirds.
"""

from dataclasses import dataclass
import logging
from typing import Callable

import torch
import torch.nn.functional as F

from vjepa_nodes.encoder.fast_path import CapturedForward, FastPath
from vjepa_nodes.encoder.layers import RopeTables
from vjepa_nodes.encoder.predictor import VJepaPredictor
from vjepa_nodes.perception.config import REGIONS

_logger = logging.getLogger('vjepa_nodes')


def target_features(tokens: torch.Tensor, levels: int = 1) -> torch.Tensor:
    """Layer-norm tokens (..., levels * D) per level, without affine parameters, in fp32."""
    per_level = tokens.float().unflatten(-1, (levels, -1))
    return F.layer_norm(per_level, per_level.shape[-1:]).flatten(-2)


def prediction_error(predicted: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Per-token surprise: mean |predicted - target| over channels, (..., N, C) -> (..., N)."""
    return (predicted.float() - targets).abs().mean(-1)


def split_indices(grid: tuple[int, int, int], horizon: int,
                  device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """Return the token indices of the context and of the newest `horizon` tubelets."""
    index = torch.arange(grid[0] * grid[1] * grid[2], device=device)
    boundary = (grid[0] - horizon) * grid[1] * grid[2]
    return index[:boundary], index[boundary:]


class SurpriseModel:
    """
    Surprise maps of clips: the encoder on the context frames, the predictor, the error.

    :param predictor: on the detector's device and dtype.
    :param encode: the detector's encoder call, clips (1, C, T, H, W) -> tokens (B, N, D).
    :param horizon: target tubelets, the newest of the clip.
    :param tubelet: frames per tubelet.
    :param baseline: the predictor's error on ordinary clips, when known (its sidecar), else 0.
    :param fast_path: the encoder's: the predictor and the error compile and replay as one CUDA
        graph per clip shape too (hundreds of small kernels otherwise).
    """

    def __init__(self, predictor: VJepaPredictor, encode: Callable[[list], torch.Tensor],
                 horizon: int, tubelet: int, baseline: float = 0.0,
                 fast_path: FastPath = FastPath(compile_model=False, cuda_graph=False)) -> None:
        if predictor.config.levels != 1:
            raise ValueError(
                f'this predictor reads and predicts {predictor.config.levels} hierarchical '
                'levels (the released V-JEPA 2.1 giant and gigantic); surprise uses '
                'single-level predictors: train one with vjepa-train-predictor')
        self.predictor, self.encode = predictor, encode
        self.horizon, self.tubelet, self.baseline = horizon, tubelet, baseline
        self.fast_path = fast_path
        self._score = (torch.compile(self.score_tokens, dynamic=False)
                       if fast_path.compile_model else self.score_tokens)
        self._ropes: dict[tuple, RopeTables] = {}
        self._graphs: dict[tuple, CapturedForward] = {}

    def split(self, grid: tuple[int, int, int]) -> tuple[int, int]:
        """Return (context tubelets, tokens per tubelet); raise ValueError if none is left."""
        slots, rows, cols = grid
        if not 0 < self.horizon < slots:
            raise ValueError(f'surprise_horizon {self.horizon} leaves no context in a clip of '
                             f'{slots} tubelets ({slots * self.tubelet} frames): use fewer '
                             'target tubelets or more frames')
        return slots - self.horizon, rows * cols

    def errors(self, clips: list[torch.Tensor], tokens: torch.Tensor,
               grid: tuple[int, int, int]) -> torch.Tensor:
        """
        Return the error maps (B, h, w) of clips (each (1, C, T, H, W)) with full tokens (B, N, D).

        Runs the encoder once more, on the context frames of all clips together.
        """
        context_slots, _ = self.split(grid)
        context = self.encode([clip[:, :, :context_slots * self.tubelet] for clip in clips])
        with torch.inference_mode():
            return self.error_maps(context, tokens, grid)

    def error_maps(self, context: torch.Tensor, tokens: torch.Tensor,
                   grid: tuple[int, int, int]) -> torch.Tensor:
        """Return error maps (B, h, w) from context tokens and the full clips' tokens."""
        key = (grid, context.device)
        if key not in self._ropes:
            self._ropes[key] = self.predictor.rope_at(
                torch.arange(grid[0] * grid[1] * grid[2], device=context.device), grid,
                context.device)
        rope = self._ropes[key]
        if not self.fast_path.cuda_graph:
            return self._compiled_or_plain(context, tokens, rope, grid)
        shapes = (tuple(context.shape), tuple(tokens.shape), grid)
        if shapes not in self._graphs:
            self._compiled_or_plain(context, tokens, rope, grid)  # compiles, if it does
            score = self._score
            self._graphs[shapes] = CapturedForward(
                lambda context, tokens: score(context, tokens, rope, grid), context, tokens)
        return self._graphs[shapes](context, tokens)

    def score_tokens(self, context: torch.Tensor, tokens: torch.Tensor, rope: RopeTables,
                     grid: tuple[int, int, int]) -> torch.Tensor:
        """Error maps from tokens: the pure tensor part, compiled and captured as a whole."""
        predicted = self.predictor.predict(context.to(self.dtype),
                                           tokens.shape[1] - context.shape[1], rope)
        error = prediction_error(predicted, target_features(tokens[:, context.shape[1]:]))
        return error.unflatten(1, (self.horizon, *grid[1:])).mean(1)

    def _compiled_or_plain(self, *arguments) -> torch.Tensor:
        try:
            return self._score(*arguments)
        except Exception as error:  # noqa: B902 - compiler errors have no common base class
            if self._score == self.score_tokens:
                raise
            _logger.error(f'torch.compile failed for the predictor ({type(error).__name__}: '
                          f'{error}); continuing without compilation (same results, slower)')
        self._score = self.score_tokens
        return self._score(*arguments)

    @property
    def dtype(self) -> torch.dtype:
        return self.predictor.predictor_proj.weight.dtype


@dataclass(frozen=True)
class SurpriseMap:
    """Surprise scores of one clip."""

    error: torch.Tensor  # (h, w) mean prediction error per patch over the target tubelets
    activation: torch.Tensor  # (h, w), values in [0, 1)
    surprise_score: float
    region_scores: dict[str, float]
    finite: bool  # False: the encoder or predictor produced inf/NaN; scores 0, not evidence


def score_surprise(error: torch.Tensor, baseline: float, scale: float) -> SurpriseMap:
    """Turn an (h, w) error map into activation, score and region scores."""
    finite = bool(torch.isfinite(error).all())
    if finite:
        activation = 1.0 - torch.exp(-(error - baseline).clamp(min=0) / scale)
    else:
        activation = torch.zeros_like(error)
    thirds = torch.tensor_split(activation, len(REGIONS), dim=1)
    regions = {name: part.mean().item() for name, part in zip(REGIONS, thirds)}
    return SurpriseMap(error, activation, activation.mean().item(), regions, finite)
