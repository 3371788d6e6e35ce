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

"""The V-JEPA 2 video encoder: clip (B, C, T, H, W) -> tokens (B, N, D)."""

import torch
from torch import nn

from vjepa_nodes.encoder.config import EncoderConfig
from vjepa_nodes.encoder.layers import Block, PatchEmbed3D, RopeTables
from vjepa_nodes.encoder.rope import rope_tables


def clip_token_grid(config: EncoderConfig,
                    clip_shape: torch.Size | tuple[int, ...]) -> tuple[int, int, int]:
    """Return the (t, h, w) token grid of a clip shape; raise ValueError if it is invalid."""
    if len(clip_shape) != 5:
        raise ValueError(f'expected a clip of shape (B, C, T, H, W), got {tuple(clip_shape)}')
    _, chans, frames, height, width = clip_shape
    tubelet, patch = config.tubelet_size, config.patch_size
    problems = []
    if chans != config.in_chans:
        problems.append(f'{chans} channels instead of {config.in_chans}')
    if frames < tubelet or frames % tubelet:
        problems.append(f'{frames} frames is not a positive multiple of {tubelet}')
    if min(height, width) < patch or height % patch or width % patch:
        problems.append(f'{height}x{width} pixels is not a multiple of {patch}')
    if problems:
        raise ValueError(f'invalid clip shape {tuple(clip_shape)}: ' + '; '.join(problems))
    return (frames // tubelet, height // patch, width // patch)


class VJepa2Encoder(nn.Module):
    """
    Pre-norm ViT with 3D RoPE, a final LayerNorm and no pooling, as released by Meta.

    Accepts any even frame count and any height and width that are multiples of the patch size.
    Returns every token, ordered time-major then row-major.
    """

    def __init__(self, config: EncoderConfig) -> None:
        super().__init__()
        self.config = config
        self.patch_embed = PatchEmbed3D(
            config.in_chans, config.embed_dim, config.patch_size, config.tubelet_size)
        self.blocks = nn.ModuleList(
            Block(config.embed_dim, config.num_heads, config.mlp_hidden_dim, config.norm_eps)
            for _ in range(config.depth))
        self.norm = nn.LayerNorm(config.embed_dim, eps=config.norm_eps)
        # Where the weights came from, for logs and diagnostics; set by build_encoder.
        self.weights_source = 'default initialisation'
        self._rope_cache: dict[tuple, RopeTables] = {}

    def rope(self, grid: tuple[int, int, int], device: torch.device) -> RopeTables:
        """Return the RoPE tables of a token grid, computed once per grid and device."""
        key = (grid, device)
        if key not in self._rope_cache:
            # Plain tensors even when first called under inference_mode, so that a later call
            # with autograd enabled can still use the cached tables.
            with torch.inference_mode(False):
                self._rope_cache[key] = rope_tables(
                    grid, self.config.head_dim, self.config.rope_theta, device)
        return self._rope_cache[key]

    def forward(self, clip: torch.Tensor) -> torch.Tensor:
        """Encode a normalised float clip (B, C, T, H, W) into tokens (B, N, D)."""
        return self.encode(*self.prepare(clip))

    def prepare(self, clip: torch.Tensor) -> tuple[torch.Tensor, RopeTables]:
        """Check a clip; return it in the weights' dtype with its grid's RoPE tables."""
        grid = clip_token_grid(self.config, clip.shape)
        if not clip.is_floating_point():
            raise ValueError(f'expected a normalised float clip, got dtype {clip.dtype}; '
                             'convert and normalise frames first')
        return clip.to(self.patch_embed.proj.weight.dtype), self.rope(grid, clip.device)

    def encode(self, clip: torch.Tensor, rope: RopeTables) -> torch.Tensor:
        """
        Encode a checked clip in the weights' dtype with its grid's RoPE tables.

        The pure tensor part of `forward`, free of Python-side caches, so that it compiles and
        captures into a CUDA graph as a whole.
        """
        x = self.patch_embed(clip)
        for block in self.blocks:
            x = block(x, rope)
        return self.norm(x)
