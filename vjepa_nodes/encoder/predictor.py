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
The V-JEPA 2 / 2.1 predictor: the features of hidden tokens, predicted from the visible ones.

It reads the encoder's tokens of the visible (context) part of a clip, adds one learned mask
token per hidden (target) position, runs a narrow ViT with 3D RoPE over all of them and returns
its guess of the encoder's layer-normed features at the targets. Positions are indices into the
clip's full token grid (time-major, then row-major), so context and targets may be any subsets.

Where the official code differs and why ours may: it sorts the tokens by position before the
blocks and back after; attention is indifferent to token order, so we skip both. It derives
rows and columns from a square grid fixed at construction; we use the clip's own grid, which
is the same for square clips of the size it was built for.
"""

from dataclasses import dataclass, replace

import torch
from torch import nn

from vjepa_nodes.encoder.config import EncoderConfig
from vjepa_nodes.encoder.layers import Block, RopeTables
from vjepa_nodes.encoder.rope import rope_tables


@dataclass(frozen=True)
class PredictorConfig:
    """
    Shape of a predictor, and of the encoder tokens it reads and predicts.

    :param encoder_dim: width of one level of encoder tokens it reads.
    :param model_version: '2' or '2.1' (RoPE pairing, modality embedding).
    :param width: the predictor's own token width.
    :param depth: transformer blocks.
    :param num_heads: attention heads per block.
    :param mlp_hidden_dim: hidden width of each block's MLP.
    :param num_mask_tokens: learned mask tokens in the file (one is used, `mask_index`).
    :param levels: encoder levels read and predicted together; V-JEPA 2.1 g and G: the 4
        hierarchical levels, concatenated per token (their input goes through an MLP).
    :param target_dim: width of one predicted level; 0: encoder_dim. The distilled V-JEPA 2.1
        B and L predict their 1664-wide ViT-G teacher's features instead.
    :param mask_index: which mask token marks the targets (the official default, 1).
    """

    encoder_dim: int
    model_version: str = '2'
    width: int = 384
    depth: int = 12
    num_heads: int = 12
    mlp_hidden_dim: int = 1536
    num_mask_tokens: int = 10
    levels: int = 1
    target_dim: int = 0
    mask_index: int = 1
    norm_eps: float = 1e-6
    rope_theta: float = 10000.0

    def __post_init__(self) -> None:
        if self.width % self.num_heads:
            raise ValueError(f'predictor width {self.width} is not divisible by '
                             f'num_heads {self.num_heads}')
        if self.num_mask_tokens < 1:
            raise ValueError('a predictor needs at least one mask token')

    @property
    def output_dim(self) -> int:
        """Width of one level of its predictions."""
        return self.target_dim or self.encoder_dim


def released_predictor_config(encoder: EncoderConfig, model_size: str) -> PredictorConfig:
    """
    Return the predictor shape that comes with an encoder: released, or ours for test sizes.

    From src/hub/backbones.py: V-JEPA 2 predictors are 384 wide, 12 blocks of 12 heads, 10 mask
    tokens; V-JEPA 2.1 ones have 8 mask tokens; its distilled B and L have 12 blocks reading the
    last level and predicting the ViT-G teacher (1664 wide); its g and G have 24 blocks reading
    and predicting all 4 levels.
    """
    dim = encoder.embed_dim
    if not encoder.released:  # the test-only sizes: narrow and shallow, head width as released
        # 4 blocks for 2.1: the official 2.1 predictor takes 4, 8, 12, 20, 24 or 40 only.
        version_2 = encoder.model_version == '2'
        return PredictorConfig(dim, encoder.model_version, width=96, depth=2 if version_2 else 4,
                               num_heads=3, mlp_hidden_dim=384,
                               num_mask_tokens=10 if version_2 else 8)
    if encoder.model_version == '2':
        return PredictorConfig(dim)
    if model_size in ('base', 'large'):
        return PredictorConfig(dim, '2.1', num_mask_tokens=8, target_dim=1664)
    return PredictorConfig(dim, '2.1', depth=24, num_mask_tokens=8,
                           levels=len(encoder.hierarchical_layers))


def trainable_predictor_config(encoder: EncoderConfig, model_size: str) -> PredictorConfig:
    """
    Return the released shape, reading and predicting the encoder's own output (one level).

    What vjepa-train-predictor trains and surprise runs: the distilled V-JEPA 2.1 predictors'
    teacher and the 4-level input of its g and G need tokens this node does not compute.
    """
    return replace(released_predictor_config(encoder, model_size), levels=1, target_dim=0)


class VJepaPredictor(nn.Module):
    """The predictor network, with the official parameter names (predictor_*, mask_tokens.N)."""

    def __init__(self, config: PredictorConfig) -> None:
        super().__init__()
        self.config = config
        in_dim = config.encoder_dim * config.levels
        if config.levels == 1:
            self.predictor_embed = nn.Linear(in_dim, config.width)
        else:  # V-JEPA 2.1's multi-level input: an MLP down to the encoder's width first
            self.predictor_embed = nn.Sequential(
                nn.Linear(in_dim, config.encoder_dim), nn.GELU(),
                nn.Linear(config.encoder_dim, config.width))
        self.mask_tokens = nn.ParameterList(
            nn.Parameter(torch.zeros(1, 1, config.width)) for _ in range(config.num_mask_tokens))
        if config.model_version == '2.1':
            # As initialised in the official code: near zero, so untrained it changes nothing.
            self.video_mod_embed = nn.Parameter(1e-6 * torch.randn(1, 1, config.width))
        self.predictor_blocks = nn.ModuleList(
            Block(config.width, config.num_heads, config.mlp_hidden_dim, config.norm_eps)
            for _ in range(config.depth))
        self.predictor_norm = nn.LayerNorm(config.width, eps=config.norm_eps)
        self.predictor_proj = nn.Linear(config.width, config.output_dim * config.levels)
        self.weights_source = 'default initialisation'  # set by build_predictor
        self._rope_cache: dict[tuple, RopeTables] = {}

    def rope(self, grid: tuple[int, int, int], device: torch.device) -> RopeTables:
        """Return the RoPE tables of every position of a token grid, computed once per grid."""
        key = (grid, device)
        if key not in self._rope_cache:
            with torch.inference_mode(False):
                pairing = 'tiled' if self.config.model_version == '2' else 'interleaved'
                # The 2.1 predictor keeps patch indices: unlike its encoder, no rescaling.
                self._rope_cache[key] = rope_tables(
                    grid, self.config.width // self.config.num_heads, self.config.rope_theta,
                    device, pairing)
        return self._rope_cache[key]

    def forward(self, context: torch.Tensor, context_index: torch.Tensor,
                target_index: torch.Tensor, grid: tuple[int, int, int]) -> torch.Tensor:
        """
        Predict target features (B, N_target, levels * output_dim) from context tokens.

        :param context: encoder tokens of the context positions (B, N_context, levels * D).
        :param context_index: their positions in the full grid, (N_context,) or (B, N_context).
        :param target_index: positions to predict, (N_target,) or (B, N_target).
        :param grid: the clip's (t, h, w) token grid the positions index.
        """
        positions = torch.cat([context_index, target_index], dim=-1)
        return self.predict(context, target_index.shape[-1],
                            self.rope_at(positions, grid, context.device))

    def rope_at(self, positions: torch.Tensor, grid: tuple[int, int, int],
                device: torch.device) -> RopeTables:
        """Return the RoPE tables of context-then-target positions, (N,) or (B, N)."""
        cos, sin = self.rope(grid, device)
        # A table row per token, the same for every head: (N, hd) -> (1, N, hd) or (B, 1, N, hd).
        return cos[positions].unsqueeze(-3), sin[positions].unsqueeze(-3)

    def predict(self, context: torch.Tensor, target_count: int,
                rope: RopeTables) -> torch.Tensor:
        """
        Predict `target_count` targets from context tokens, with the tables of rope_at.

        The pure tensor part of `forward`, free of Python-side caches, so that it compiles and
        captures into a CUDA graph as a whole.
        """
        batch, context_count = context.shape[:2]
        x = self.predictor_embed(context)
        mask_token = self.mask_tokens[self.config.mask_index % self.config.num_mask_tokens]
        x = torch.cat([x, mask_token.to(x.dtype).expand(batch, target_count, -1)], dim=1)
        if self.config.model_version == '2.1':
            x = x + self.video_mod_embed.to(x.dtype)
        for block in self.predictor_blocks:
            x = block(x, rope)
        # The norm and projection act per token: only the targets need them.
        return self.predictor_proj(self.predictor_norm(x[:, context_count:]))
