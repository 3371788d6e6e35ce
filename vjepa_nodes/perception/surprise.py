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

import torch
import torch.nn.functional as F

from vjepa_nodes.encoder.fast_path import CapturedForward, FastPath
from vjepa_nodes.encoder.layers import RopeTables
from vjepa_nodes.encoder.predictor import VJepaPredictor
from vjepa_nodes.encoder.vit import VJepa2Encoder
from vjepa_nodes.perception.config import REGIONS

_logger = logging.getLogger('vjepa_nodes')


def target_features(tokens: torch.Tensor) -> torch.Tensor:
    """Layer-norm tokens (..., D) without affine parameters, in fp32: the training targets."""
    return F.layer_norm(tokens.float(), tokens.shape[-1:])


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

    :param predictor: on the encoder's device, in its dtype.
    :param encoder: the detector's encoder (its weights; the full-clip pass is the detector's).
    :param horizon: target tubelets, the newest of the clip.
    :param baseline: the predictor's error on ordinary clips: its sidecar's; None: unknown (a
        released predictor: surprise_baseline must be set).
    :param fast_path: the encoder's. The context pass, the predictor and the error then compile
        and replay as one CUDA graph per batch shape (hundreds of small kernels otherwise).
    """

    def __init__(self, predictor: VJepaPredictor, encoder: VJepa2Encoder, horizon: int,
                 baseline: float | None = None,
                 fast_path: FastPath = FastPath(compile_model=False, cuda_graph=False)) -> None:
        if predictor.config.levels != 1:
            raise ValueError(
                f'this predictor reads and predicts {predictor.config.levels} hierarchical '
                'levels (the released V-JEPA 2.1 giant and gigantic); surprise uses '
                'single-level predictors: train one with vjepa-train-predictor')
        self.predictor, self.encoder = predictor, encoder
        self.horizon, self.baseline, self.fast_path = horizon, baseline, fast_path
        self._score = (torch.compile(self.score_clips, dynamic=False)
                       if fast_path.compile_model else self.score_clips)
        self._graphs: dict[tuple, CapturedForward] = {}
        self._ropes: dict[tuple, tuple[RopeTables, RopeTables]] = {}

    @property
    def description(self) -> str:
        """Say where the predictor comes from and what it predicts, for logs and diagnostics."""
        return (f'predictor {self.predictor.weights_source}, newest {self.horizon} tubelet(s)'
                + (f', its own baseline {self.baseline:.3f}' if self.baseline is not None
                   else ''))

    def resolve_baseline(self, configured: float) -> float:
        """Return the baseline to score with: `configured`, else the predictor's own."""
        if configured:
            return configured
        if self.baseline is None:
            raise ValueError(
                f'surprise_baseline is needed with the {self.predictor.weights_source} '
                'predictor: it was not trained here, so its error on ordinary clips is unknown. '
                'Measure it on your recordings (vjepa-train-predictor --steps 0 --fine-tune '
                'reports it) and set surprise_baseline')
        return self.baseline

    def split(self, grid: tuple[int, int, int]) -> tuple[int, int]:
        """Return (context tubelets, tokens per tubelet); raise ValueError if none is left."""
        slots, rows, cols = grid
        if not 0 < self.horizon < slots:
            raise ValueError(f'surprise_horizon {self.horizon} leaves no context in a clip of '
                             f'{slots} tubelets: use fewer target tubelets or more frames')
        return slots - self.horizon, rows * cols

    def errors(self, clips: torch.Tensor, tokens: torch.Tensor,
               grid: tuple[int, int, int]) -> torch.Tensor:
        """Return the error maps (B, h, w) of clips (B, C, T, H, W) with their tokens (B, N, D)."""
        context_slots, _ = self.split(grid)
        device = clips.device
        if (grid, device) not in self._ropes:  # the encoder's for the context, the predictor's
            self._ropes[grid, device] = (
                self.encoder.rope((context_slots, *grid[1:]), device),
                self.predictor.rope_at(torch.arange(grid[0] * grid[1] * grid[2], device=device),
                                       grid, device))
        ropes = self._ropes[grid, device]
        with torch.inference_mode():
            if not self.fast_path.cuda_graph:
                return self._compiled_or_plain(clips, tokens, *ropes, grid)
            shapes = (tuple(clips.shape), tuple(tokens.shape))
            if shapes not in self._graphs:
                self._compiled_or_plain(clips, tokens, *ropes, grid)  # compiles, if it does
                score = self._score
                self._graphs[shapes] = CapturedForward(
                    lambda clips, tokens: score(clips, tokens, *ropes, grid), clips, tokens)
            return self._graphs[shapes](clips, tokens)

    def score_clips(self, clips: torch.Tensor, tokens: torch.Tensor, encoder_rope: RopeTables,
                    predictor_rope: RopeTables, grid: tuple[int, int, int]) -> torch.Tensor:
        """Return error maps: the pure tensor part, compiled and captured as a whole."""
        context_frames = clips.shape[2] * (grid[0] - self.horizon) // grid[0]
        context = self.encoder.encode(clips[:, :, :context_frames], encoder_rope)
        predicted = self.predictor.predict(context.to(self.dtype),
                                           tokens.shape[1] - context.shape[1], predictor_rope)
        error = prediction_error(predicted, target_features(tokens[:, context.shape[1]:]))
        return error.unflatten(1, (self.horizon, *grid[1:])).mean(1)

    def _compiled_or_plain(self, *arguments) -> torch.Tensor:
        try:
            return self._score(*arguments)
        except Exception as error:  # noqa: B902 - compiler errors have no common base class
            if self._score == self.score_clips:
                raise
            _logger.error(f'torch.compile failed for surprise ({type(error).__name__}: '
                          f'{error}); continuing without compilation (same results, slower)')
        self._score = self.score_clips
        return self._score(*arguments)

    @property
    def dtype(self) -> torch.dtype:
        return self.predictor.predictor_proj.weight.dtype


@dataclass(frozen=True)
class SurpriseMap:
    """Surprise scores of one clip."""

    error: torch.Tensor  # (h, w) mean prediction error per patch over the target tubelets
    activation: torch.Tensor  # (h, w), values in [0, 1]
    surprise_score: float
    region_scores: dict[str, float]
    finite: bool  # False: the encoder or predictor produced inf/NaN; scores 0, not evidence


def score_surprise(error: torch.Tensor, baseline: float, scale: float) -> SurpriseMap:
    """Turn an (h, w) error map into activation, score and region scores."""
    finite = torch.isfinite(error).all()
    activation = torch.where(finite, 1.0 - torch.exp(-(error - baseline).clamp(min=0) / scale),
                             0.0)
    thirds = torch.tensor_split(activation, len(REGIONS), dim=1)
    # One transfer from the device for all the numbers, not one wait per number.
    score, *regions, is_finite = torch.stack(
        [activation.mean(), *(part.mean() for part in thirds), finite.float()]).tolist()
    return SurpriseMap(error, activation, score, dict(zip(REGIONS, regions)), bool(is_finite))
