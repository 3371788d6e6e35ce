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
Motion scores from how encoder features change over time, and an obstacle decision.

Each analysed clip is compared with the previous one, token by token at the same (slot, row,
column) position, so RoPE positions match and a static scene of any texture gives no change:

1. change per token: 1 - cosine similarity of the two feature vectors, averaged over the clip's
   time slots -> an (h, w) map over the patch grid;
2. common-mode removal: a change spread over most of the view (a brightness or exposure step;
   with `ego_motion_compensation`, the camera's own motion) is removed. Its level is the map's
   25th percentile (the median with ego-motion compensation), and `common_mode_gain` times that
   level is subtracted from every patch: lighting changes every patch by a similar amount and
   vanishes, while a moving object changes its patches many times more than the rest;
3. a soft threshold turns the remaining change into activation 1 - exp(-change / change_scale),
   in [0, 1): ~0 for an unchanged patch, ~1 for a clearly changed one;
4. scores are mean activations: the whole grid (`motion_score`) and the left, centre and right
   thirds of its columns. A score is therefore the fraction of the view that changed, weighted by
   how clearly, which means the same at any resolution, frame count and model size.
"""

from dataclasses import dataclass, replace
import math

import torch
import torch.nn.functional as F

from vjepa_nodes.perception.config import DecisionConfig, REGIONS, ScoringConfig


@dataclass(frozen=True)
class MotionMap:
    """Scores of one clip against the previous one."""

    activation: torch.Tensor  # (h, w) patch grid on the host, values in [0, 1)
    motion_score: float
    region_scores: dict[str, float]
    # False for the first clip after a start or restart (nothing to compare with) and for
    # features that are not finite (e.g. an fp16 overflow): the scores are 0 and not evidence.
    has_reference: bool
    features_finite: bool = True
    # Change per patch minus the common mode, before the soft threshold clamps it at 0; a
    # ranking of patches without ties (scripts/surprise_study.py). None without a reference.
    excess: torch.Tensor | None = None


def feature_change(features: torch.Tensor, previous: torch.Tensor) -> torch.Tensor:
    """Change per patch of two clips' features (t, h, w, D): 1 - cosine, averaged over time."""
    return (1.0 - F.cosine_similarity(features, previous, dim=-1)).mean(0)


class MotionScorer:
    """Compare each clip's features with the previous clip's."""

    def __init__(self, config: ScoringConfig) -> None:
        self.config = config
        self._previous: torch.Tensor | None = None

    def reset(self) -> None:
        """Forget the reference clip, e.g. after a camera outage."""
        self._previous = None

    def score(self, tokens: torch.Tensor, grid: tuple[int, int, int]) -> MotionMap:
        """Score tokens (1, N, D) of a clip with token grid (t, h, w)."""
        features = tokens.float().reshape(*grid, -1)
        if grid[2] < len(REGIONS):
            raise ValueError(f'the patch grid needs at least {len(REGIONS)} columns for the '
                             f'regions, got {grid[2]}')
        previous = self._previous
        compared = previous is not None and previous.shape == features.shape
        activation, excess = torch.zeros(grid[1:], device=features.device), None
        if compared:
            change = feature_change(features, previous)
            cfg = self.config
            common = cfg.common_mode_gain * torch.quantile(change.flatten(),
                                                           cfg.common_mode_quantile)
            excess = change - common
            activation = 1.0 - torch.exp(-excess.clamp(min=0) / cfg.change_scale)
        # One wait for the device, not one per number: each wait also lets the node's image
        # callbacks take the interpreter from the thread that is serving a clip.
        host = torch.cat([torch.isfinite(features).all().float().reshape(1),
                          activation.flatten()]).cpu()
        if not host[0]:
            self._previous = None
            return self._summarise(torch.zeros(grid[1:]), False, features_finite=False)
        self._previous = features
        return replace(self._summarise(host[1:].reshape(grid[1:]), compared), excess=excess)

    @staticmethod
    def _summarise(activation: torch.Tensor, has_reference: bool,
                   features_finite: bool = True) -> MotionMap:
        thirds = torch.tensor_split(activation, len(REGIONS), dim=1)
        regions = {name: part.mean().item() for name, part in zip(REGIONS, thirds)}
        return MotionMap(activation, activation.mean().item(), regions, has_reference,
                         features_finite)


class ObstacleDecision:
    """Turn a score stream into a flag that neither flickers nor reacts to one odd clip."""

    def __init__(self, config: DecisionConfig) -> None:
        self.config = config
        self.obstacle = False
        self._streak = 0  # consecutive clips arguing for the opposite of the current flag

    def update(self, score: float) -> bool:
        """Feed one clip's score; return the flag after it."""
        if not math.isfinite(score):
            raise ValueError(f'score must be finite, got {score}')
        cfg = self.config
        wants_switch = score < cfg.off_threshold if self.obstacle else score >= cfg.on_threshold
        self._streak = self._streak + 1 if wants_switch else 0
        if self._streak >= cfg.debounce_clips:
            self.obstacle, self._streak = not self.obstacle, 0
        return self.obstacle

    def restart_debounce(self) -> None:
        """Keep the flag but forget the streak, so no debounce spans a camera restart."""
        self._streak = 0

    def reset(self) -> None:
        self.obstacle, self._streak = False, 0
