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
Encoder sizes as data: one frozen config per released V-JEPA 2 encoder, plus test sizes.

Also the encoder's other choices (precisions, fast paths, checkpoint entries). This module
imports no torch, so settings, launch files and light nodes can read them.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class EncoderConfig:
    """
    Shape of a V-JEPA 2 video encoder (a pre-norm ViT with 3D RoPE and no position embedding).

    :param embed_dim: token width D.
    :param depth: number of transformer blocks.
    :param num_heads: attention heads per block.
    :param mlp_hidden_dim: hidden width of each block's MLP.
    :param patch_size: spatial patch side in pixels.
    :param tubelet_size: frames per temporal patch.
    :param in_chans: input channels.
    :param norm_eps: LayerNorm epsilon.
    :param rope_theta: RoPE frequency base.
    :param released: True for sizes with official weights; False for test-only sizes.
    :param model_version: '2' (V-JEPA 2) or '2.1' (V-JEPA 2.1), for messages.
    :param rope_pairing: how sin/cos tables pair frequencies with channel pairs: 'tiled'
        (V-JEPA 2: `[f0..fk, f0..fk]`) or 'interleaved' (V-JEPA 2.1: `[f0, f0, f1, f1, ...]`).
    :param rope_pretrain_grid: V-JEPA 2.1 rescales row and column positions to this many
        patches per side, `pos * (grid - 1) / (patches - 1)`; 0 keeps patch indices.
    :param modality_embeddings: V-JEPA 2.1: a separate 1-frame tokenizer for single images and a
        learned image or video embedding added to every token.
    :param hierarchical_layers: V-JEPA 2.1: blocks whose outputs, each through its own LayerNorm
        (`norms_block`), form the hierarchical features; the last one's is the output. Empty:
        one final LayerNorm (`norm`).
    :param checkpoint_key: entry of an official `.pt` that holds the released encoder.
    """

    embed_dim: int
    depth: int
    num_heads: int
    mlp_hidden_dim: int
    patch_size: int = 16
    tubelet_size: int = 2
    in_chans: int = 3
    norm_eps: float = 1e-6
    rope_theta: float = 10000.0
    released: bool = True
    model_version: str = '2'
    rope_pairing: str = 'tiled'
    rope_pretrain_grid: int = 0
    modality_embeddings: bool = False
    hierarchical_layers: tuple[int, ...] = ()
    checkpoint_key: str = 'encoder'

    def __post_init__(self) -> None:
        if self.embed_dim % self.num_heads:
            raise ValueError(f'embed_dim {self.embed_dim} is not divisible by '
                             f'num_heads {self.num_heads}')
        if self.hierarchical_layers and self.hierarchical_layers[-1] != self.depth - 1:
            raise ValueError('the last hierarchical layer must be the last block')

    @property
    def head_dim(self) -> int:
        return self.embed_dim // self.num_heads


# Widths, depths and heads of the released checkpoints (vitl.pt, vith.pt, vitg*.pt and their HF
# conversions). ViT-g uses the 22-head "xformers" variant and mlp_ratio 48/11 -> 6144.
ENCODER_CONFIGS: dict[str, EncoderConfig] = {
    'large': EncoderConfig(embed_dim=1024, depth=24, num_heads=16, mlp_hidden_dim=4096),
    'huge': EncoderConfig(embed_dim=1280, depth=32, num_heads=16, mlp_hidden_dim=5120),
    'giant': EncoderConfig(embed_dim=1408, depth=40, num_heads=22, mlp_hidden_dim=6144),
    # Test-only sizes: the same code with fewer, narrower blocks; no weights exist for them. Their
    # head widths (64, 80) exercise the ViT-L/g and ViT-H RoPE splits.
    'small': EncoderConfig(embed_dim=192, depth=4, num_heads=3, mlp_hidden_dim=768,
                           released=False),
    'tiny': EncoderConfig(embed_dim=160, depth=2, num_heads=2, mlp_hidden_dim=640,
                          released=False),
}


def _vjepa21(embed_dim: int, depth: int, num_heads: int, mlp_hidden_dim: int,
             hierarchical_layers: tuple[int, ...], checkpoint_key: str,
             released: bool = True) -> EncoderConfig:
    return EncoderConfig(
        embed_dim=embed_dim, depth=depth, num_heads=num_heads, mlp_hidden_dim=mlp_hidden_dim,
        released=released, model_version='2.1', rope_pairing='interleaved',
        rope_pretrain_grid=16, modality_embeddings=True,
        hierarchical_layers=hierarchical_layers, checkpoint_key=checkpoint_key)


# V-JEPA 2.1 (app/vjepa_2_1, src/hub/backbones.py of the 2.1 release): B and L are distilled from
# ViT-G and kept in 'ema_encoder'; g and G are the 22- and 26-head variants (MLP 48/11, 64/13).
ENCODER_CONFIGS_2_1: dict[str, EncoderConfig] = {
    'base': _vjepa21(768, 12, 12, 3072, (2, 5, 8, 11), 'ema_encoder'),
    'large': _vjepa21(1024, 24, 16, 4096, (5, 11, 17, 23), 'ema_encoder'),
    'giant': _vjepa21(1408, 40, 22, 6144, (9, 19, 29, 39), 'target_encoder'),
    'gigantic': _vjepa21(1664, 48, 26, 8192, (11, 23, 37, 47), 'target_encoder'),
    # Test-only, no weights: the official code's vit_tiny (ViT-B's depth at a quarter width).
    'tiny': _vjepa21(192, 12, 3, 768, (2, 5, 8, 11), 'ema_encoder', released=False),
}
MODEL_VERSIONS: dict[str, dict[str, EncoderConfig]] = {
    '2': ENCODER_CONFIGS, '2.1': ENCODER_CONFIGS_2_1}

# Input normalisation the released encoders were trained with (ImageNet statistics, RGB order).
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

# Where the released weights are published.
HF_MODEL_IDS: dict[str, str] = {
    'large': 'facebook/vjepa2-vitl-fpc64-256',
    'huge': 'facebook/vjepa2-vith-fpc64-256',
    'giant': 'facebook/vjepa2-vitg-fpc64-256',
}
OFFICIAL_URLS: dict[str, str] = {
    'large': 'https://dl.fbaipublicfiles.com/vjepa2/vitl.pt',
    'huge': 'https://dl.fbaipublicfiles.com/vjepa2/vith.pt',
    'giant': 'https://dl.fbaipublicfiles.com/vjepa2/vitg.pt',
}
OFFICIAL_URLS_2_1: dict[str, str] = {
    size: f'https://dl.fbaipublicfiles.com/vjepa2/{name}.pt' for size, name in (
        ('base', 'vjepa2_1_vitb_dist_vitG_384'), ('large', 'vjepa2_1_vitl_dist_vitG_384'),
        ('giant', 'vjepa2_1_vitg_384'), ('gigantic', 'vjepa2_1_vitG_384'))}


# Compute precisions by name ('auto': the device's best, see vjepa_nodes.device).
PRECISION_CHOICES = ('auto', 'fp32', 'fp16', 'bf16')
# 'none', not 'off': ROS parameter parsing reads a bare off as the boolean false.
FAST_PATHS = ('auto', 'none', 'compile', 'cuda_graph', 'compile+cuda_graph')
# Entries of an official .pt that hold an encoder; the context encoder is the HF release's.
CHECKPOINT_KEYS = ('encoder', 'target_encoder', 'ema_encoder')
# What runs the encoder: PyTorch, an exported file (vjepa-export) in ONNX Runtime or TensorRT, or
# MLX; auto picks per platform (vjepa_nodes.backend_choice).
BACKENDS = ('auto', 'torch', 'onnxruntime', 'tensorrt', 'mlx')


def get_encoder_config(model_size: str, model_version: str = '2') -> EncoderConfig:
    """Return the config for `model_size` of `model_version`; raise ValueError naming choices."""
    if model_version not in MODEL_VERSIONS:
        raise ValueError(f'unknown model_version {model_version!r}; choose one of '
                         f'{", ".join(MODEL_VERSIONS)}')
    configs = MODEL_VERSIONS[model_version]
    try:
        return configs[model_size]
    except KeyError:
        test_only = [name for name, config in configs.items() if not config.released]
        raise ValueError(
            f'unknown model_size {model_size!r} for V-JEPA {model_version}; choose one of '
            f'{sorted(configs)} ({" and ".join(test_only)}: test-only, without released '
            'weights)') from None
