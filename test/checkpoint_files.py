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

"""Checkpoint files in the released formats, made by the tests (no weights can be downloaded)."""

import torch
from torch import nn
from transformers import VJEPA2Config, VJEPA2Model

from vjepa_nodes.encoder import EncoderConfig

OFFICIAL_PREFIX = 'module.backbone.'


def perturb_vectors(model: nn.Module, scale: float = 0.1,
                    embeddings: bool = False) -> nn.Module:
    """
    Move every bias and norm parameter off its initial value, so each mapping is exercised.

    `embeddings`: also the (1, 1, D) ones (V-JEPA 2.1's modality embeddings).
    """
    with torch.no_grad():
        for param in model.parameters():
            if param.ndim == 1 or (embeddings and param.shape[:2] == (1, 1)):
                param.add_(scale * torch.randn_like(param))
    return model


def hf_model(config: EncoderConfig, crop_size: int) -> VJEPA2Model:
    """Return a randomly initialised, perturbed transformers VJEPA2Model of the same shape."""
    hf_config = VJEPA2Config(
        hidden_size=config.embed_dim, num_hidden_layers=config.depth,
        num_attention_heads=config.num_heads, mlp_ratio=config.mlp_hidden_dim / config.embed_dim,
        crop_size=crop_size, pred_hidden_size=64, pred_num_hidden_layers=1,
        pred_num_attention_heads=2)
    return perturb_vectors(VJEPA2Model(hf_config).eval())


def hf_reference(model: VJEPA2Model, clip: torch.Tensor) -> torch.Tensor:
    """Return the transformers encoder's output for a (B, C, T, H, W) clip."""
    with torch.no_grad():
        return model.encoder(clip.permute(0, 2, 1, 3, 4)).last_hidden_state


def official_checkpoint(encoder: dict[str, torch.Tensor],
                        target_encoder: dict[str, torch.Tensor]) -> dict:
    """Lay out a training checkpoint like vitl.pt: wrapped keys, pos_embed, predictor, extras."""
    def wrap(state_dict):
        wrapped = {OFFICIAL_PREFIX + key: value for key, value in state_dict.items()}
        width = state_dict['norm.weight'].shape[0]
        wrapped[OFFICIAL_PREFIX + 'pos_embed'] = torch.zeros(1, 8, width)
        return wrapped
    return {'encoder': wrap(encoder), 'target_encoder': wrap(target_encoder),
            'predictor': {OFFICIAL_PREFIX + 'predictor_embed.weight': torch.zeros(4, 4)},
            'epoch': 10, 'lr': 1e-4}


def relative_error(actual: torch.Tensor, expected: torch.Tensor) -> float:
    return ((actual - expected).norm() / expected.norm()).item()
