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
Train a predictor for surprise on unlabeled clips, the encoder frozen.

Self-supervised, the way surprise is scored: the frozen encoder encodes each clip's context
frames alone and the full clip; the predictor learns to predict the newest `horizon` tubelets'
layer-normed tokens from the context tokens, under an L1 loss (V-JEPA's own objective). Since
the encoder does not change, each clip is encoded once and only the predictor trains.
"""

from dataclasses import dataclass, field
import random

import torch

from vjepa_nodes.encoder.predictor import VJepaPredictor
from vjepa_nodes.encoder.vit import clip_token_grid, VJepa2Encoder
from vjepa_nodes.perception.surprise import prediction_error, split_indices, target_features

Grid = tuple[int, int, int]


@dataclass
class ClipSet:
    """Encoded clips by token grid: context tokens and normalised targets, fp16 on the CPU."""

    context: dict[Grid, list[torch.Tensor]] = field(default_factory=dict)
    targets: dict[Grid, list[torch.Tensor]] = field(default_factory=dict)

    def __len__(self) -> int:
        return sum(len(items) for items in self.context.values())

    def add(self, grid: Grid, context: torch.Tensor, targets: torch.Tensor) -> None:
        """Add a batch of clips' context tokens (B, Nc, D) and targets (B, Nt, D)."""
        self.context.setdefault(grid, []).extend(context.half().cpu().unbind(0))
        self.targets.setdefault(grid, []).extend(targets.half().cpu().unbind(0))

    def batches(self, size: int) -> list[tuple[Grid, torch.Tensor, torch.Tensor]]:
        """Return every clip once, in batches of one grid (the last of a grid may be smaller)."""
        return [(grid, torch.stack(self.context[grid][start:start + size]),
                 torch.stack(self.targets[grid][start:start + size]))
                for grid in self.context for start in range(0, len(self.context[grid]), size)]

    def sample(self, size: int, rng: random.Random) -> tuple[Grid, torch.Tensor, torch.Tensor]:
        """Return a random batch of one grid, the grid drawn in proportion to its clips."""
        grids = list(self.context)
        grid = rng.choices(grids, weights=[len(self.context[g]) for g in grids])[0]
        picks = [rng.randrange(len(self.context[grid])) for _ in range(size)]
        return (grid, torch.stack([self.context[grid][i] for i in picks]),
                torch.stack([self.targets[grid][i] for i in picks]))


@torch.no_grad()
def encode_clips(encoder: VJepa2Encoder, clips: torch.Tensor,
                 horizon: int) -> tuple[Grid, torch.Tensor, torch.Tensor]:
    """Return (grid, context tokens, normalised targets) of normalised clips (B, C, T, H, W)."""
    grid = clip_token_grid(encoder.config, clips.shape)
    context_frames = (grid[0] - horizon) * encoder.config.tubelet_size
    if context_frames <= 0:
        raise ValueError(f'surprise_horizon {horizon} leaves no context in {grid[0]} tubelets')
    full = encoder(clips)
    context = encoder(clips[:, :, :context_frames])
    return grid, context, target_features(full[:, context.shape[1]:])


class PredictorTraining:
    """AdamW on the predictor's L1 error; the state (weights, optimiser, step) resumes."""

    def __init__(self, predictor: VJepaPredictor, horizon: int, device: torch.device,
                 lr: float = 5e-4, weight_decay: float = 0.04) -> None:
        self.predictor = predictor.to(device).train().requires_grad_(True)
        self.horizon, self.device = horizon, device
        self.optimizer = torch.optim.AdamW(self.predictor.parameters(), lr=lr,
                                           weight_decay=weight_decay)
        self.step_count = 0

    def loss(self, grid: Grid, context: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        context_index, target_index = split_indices(grid, self.horizon, self.device)
        predicted = self.predictor(context.to(self.device, torch.float32), context_index,
                                   target_index, grid)
        return prediction_error(predicted, targets.to(self.device, torch.float32)).mean()

    def step(self, grid: Grid, context: torch.Tensor, targets: torch.Tensor) -> float:
        """One optimiser step on a batch; return its loss."""
        self.optimizer.zero_grad(set_to_none=True)
        loss = self.loss(grid, context, targets)
        loss.backward()
        self.optimizer.step()
        self.step_count += 1
        return loss.item()

    @torch.no_grad()
    def evaluate(self, clips: ClipSet, batch_size: int = 8) -> float:
        """Mean L1 error over every clip of `clips` (NaN if there are none)."""
        total, count = 0.0, 0
        for grid, context, targets in clips.batches(batch_size):
            total += self.loss(grid, context, targets).item() * len(context)
            count += len(context)
        return total / count if count else float('nan')

    def state_dict(self) -> dict:
        return {'predictor': self.predictor.state_dict(),
                'optimizer': self.optimizer.state_dict(), 'step': self.step_count}

    def load_state_dict(self, state: dict) -> None:
        self.predictor.load_state_dict(state['predictor'])
        self.optimizer.load_state_dict(state['optimizer'])
        self.step_count = int(state['step'])
