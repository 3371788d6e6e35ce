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
    image = config.modality_embeddings and frames == 1  # V-JEPA 2.1's single-image path
    problems = []
    if chans != config.in_chans:
        problems.append(f'{chans} channels instead of {config.in_chans}')
    if not image and (frames < tubelet or frames % tubelet):
        problems.append(f'{frames} frames is not a positive multiple of {tubelet}'
                        + (' (or 1: an image)' if config.modality_embeddings else ''))
    if min(height, width) < patch or height % patch or width % patch:
        problems.append(f'{height}x{width} pixels is not a multiple of {patch}')
    elif config.rope_pretrain_grid and min(height, width) < 2 * patch:
        # Rescaled positions divide by (patches - 1): one patch per side has no position.
        problems.append(f'{height}x{width} pixels: V-JEPA {config.model_version} needs at least '
                        f'2 patches ({2 * patch} pixels) per side')
    if problems:
        raise ValueError(f'invalid clip shape {tuple(clip_shape)}: ' + '; '.join(problems))
    return (1 if image else frames // tubelet, height // patch, width // patch)


class VJepa2Encoder(nn.Module):
    """
    Pre-norm ViT with 3D RoPE and no pooling, as released by Meta: V-JEPA 2 or 2.1 (config).

    Accepts any even frame count (V-JEPA 2.1 also 1: an image) and any height and width that are
    multiples of the patch size. Returns every token, ordered time-major then row-major. V-JEPA 2
    ends in one LayerNorm (`norm`); V-JEPA 2.1 normalises its last block with the last of its
    `norms_block` and adds a modality embedding after its video or image tokenizer.
    """

    def __init__(self, config: EncoderConfig) -> None:
        super().__init__()
        self.config = config
        dim = config.embed_dim
        self.patch_embed = PatchEmbed3D(
            config.in_chans, dim, config.patch_size, config.tubelet_size)
        if config.modality_embeddings:
            self.patch_embed_img = PatchEmbed3D(config.in_chans, dim, config.patch_size, 1)
            # As initialised in the official code: near zero, so untrained they change nothing.
            self.img_mod_embed = nn.Parameter(1e-6 * torch.randn(1, 1, dim))
            self.video_mod_embed = nn.Parameter(1e-6 * torch.randn(1, 1, dim))
        self.blocks = nn.ModuleList(
            Block(dim, config.num_heads, config.mlp_hidden_dim, config.norm_eps)
            for _ in range(config.depth))
        if config.hierarchical_layers:
            self.norms_block = nn.ModuleList(
                nn.LayerNorm(dim, eps=config.norm_eps) for _ in config.hierarchical_layers)
        else:
            self.norm = nn.LayerNorm(dim, eps=config.norm_eps)
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
                    grid, self.config.head_dim, self.config.rope_theta, device,
                    self.config.rope_pairing, self.config.rope_pretrain_grid)
        return self._rope_cache[key]

    def forward(self, clip: torch.Tensor, hierarchical: bool = False) -> torch.Tensor:
        """
        Encode a normalised float clip (B, C, T, H, W) into tokens (B, N, D).

        `hierarchical` (V-JEPA 2.1): the normalised outputs of config.hierarchical_layers,
        concatenated per token: (B, N, 4 D).
        """
        if hierarchical and not self.config.hierarchical_layers:
            raise ValueError(f'V-JEPA {self.config.model_version} has no hierarchical features')
        return self.encode(*self.prepare(clip), hierarchical=hierarchical)

    def prepare(self, clip: torch.Tensor) -> tuple[torch.Tensor, RopeTables]:
        """Check a clip; return it in the weights' dtype with its grid's RoPE tables."""
        grid = clip_token_grid(self.config, clip.shape)
        if not clip.is_floating_point():
            raise ValueError(f'expected a normalised float clip, got dtype {clip.dtype}; '
                             'convert and normalise frames first')
        return clip.to(self.patch_embed.proj.weight.dtype), self.rope(grid, clip.device)

    def encode(self, clip: torch.Tensor, rope: RopeTables,
               hierarchical: bool = False) -> torch.Tensor:
        """
        Encode a checked clip in the weights' dtype with its grid's RoPE tables.

        The pure tensor part of `forward`, free of Python-side caches, so that it compiles and
        captures into a CUDA graph as a whole.
        """
        x = self._tokens(clip)
        norms = dict(zip(self.config.hierarchical_layers, self.norms_block)) if (
            hierarchical) else {}
        outputs = []
        for index, block in enumerate(self.blocks):
            x = block(x, rope)
            if index in norms:
                outputs.append(norms[index](x))
        if hierarchical:
            return torch.cat(outputs, dim=-1)
        return self.norms_block[-1](x) if self.config.hierarchical_layers else self.norm(x)

    def _tokens(self, clip: torch.Tensor) -> torch.Tensor:
        if not self.config.modality_embeddings:
            return self.patch_embed(clip)
        if clip.shape[2] == 1:
            return self.patch_embed_img(clip) + self.img_mod_embed
        return self.patch_embed(clip) + self.video_mod_embed
