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
Other implementations of the same encoder, built for timing beside ours (`vjepa-benchmark`).

Each builder returns a module with random weights and the shape of one of our sizes, and a
function that takes our (B, C, T, H, W) clip layout. They are optional: a missing package or
checkout raises ReferenceUnavailable with what to install.
"""

from functools import partial
from pathlib import Path
import sys
from typing import Callable
import warnings

import torch
from torch import nn

from vjepa_nodes.encoder.config import EncoderConfig

ClipFunction = Callable[[torch.Tensor], torch.Tensor]


class ReferenceUnavailable(RuntimeError):
    """The reference implementation cannot be built here; the message says why."""


def transformers_encoder(config: EncoderConfig, size: int,
                         num_frames: int) -> tuple[nn.Module, ClipFunction]:
    """Build transformers' VJEPA2 encoder (SDPA attention) for square `size` clips."""
    try:
        from transformers import VJEPA2Config, VJEPA2Model
    except ImportError as error:
        raise ReferenceUnavailable(
            f'transformers with VJEPA2 is not installed ({error}); pip install transformers')
    hf_config = VJEPA2Config(
        hidden_size=config.embed_dim, num_hidden_layers=config.depth,
        num_attention_heads=config.num_heads, mlp_ratio=config.mlp_hidden_dim / config.embed_dim,
        crop_size=size, frames_per_clip=num_frames, pred_hidden_size=64,
        pred_num_hidden_layers=1, pred_num_attention_heads=2)
    encoder = VJEPA2Model._from_config(hf_config, attn_implementation='sdpa').encoder
    encoder = encoder.eval().requires_grad_(False)
    # transformers takes (B, T, C, H, W).
    return encoder, lambda clip: encoder(clip.transpose(1, 2)).last_hidden_state


def official_encoder(config: EncoderConfig, size: int,
                     repo: str | Path) -> tuple[nn.Module, ClipFunction]:
    """Build the official facebookresearch/vjepa2 VisionTransformer from a checkout at `repo`."""
    repo = Path(repo)
    if not (repo / 'src' / 'models' / 'vision_transformer.py').is_file():
        raise ReferenceUnavailable(
            f'{repo} is not a facebookresearch/vjepa2 checkout '
            '(no src/models/vision_transformer.py); git clone it and pass its path')
    if str(repo) not in sys.path:
        sys.path.insert(0, str(repo))
    # Deprecations inside the official code (timm.models.layers, sdp_kernel), not ours to fix.
    warnings.filterwarnings('ignore', message='.*timm.models.layers', category=FutureWarning)
    warnings.filterwarnings('ignore', message='.*sdp_kernel', category=FutureWarning)
    try:
        from src.models.vision_transformer import VisionTransformer
    except ImportError as error:  # it imports einops without using it
        raise ReferenceUnavailable(f'cannot import the official code from {repo}: {error}')
    # The hub's vit_large arguments (64-frame RoPE model), with the widths of `config`.
    encoder = VisionTransformer(
        img_size=(size, size), patch_size=config.patch_size, num_frames=64,
        tubelet_size=config.tubelet_size, embed_dim=config.embed_dim, depth=config.depth,
        num_heads=config.num_heads, mlp_ratio=config.mlp_hidden_dim / config.embed_dim,
        qkv_bias=True, norm_layer=partial(nn.LayerNorm, eps=config.norm_eps), use_sdpa=True,
        use_rope=True, uniform_power=False)
    return encoder.eval().requires_grad_(False), encoder
