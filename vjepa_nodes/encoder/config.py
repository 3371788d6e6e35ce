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

    def __post_init__(self) -> None:
        if self.embed_dim % self.num_heads:
            raise ValueError(f'embed_dim {self.embed_dim} is not divisible by '
                             f'num_heads {self.num_heads}')

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


# Compute precisions by name ('auto': the device's best, see vjepa_nodes.device).
PRECISION_CHOICES = ('auto', 'fp32', 'fp16', 'bf16')
# 'none', not 'off': ROS parameter parsing reads a bare off as the boolean false.
FAST_PATHS = ('auto', 'none', 'compile', 'cuda_graph', 'compile+cuda_graph')
# Entries of an official .pt that hold an encoder; the context encoder is the HF release's.
CHECKPOINT_KEYS = ('encoder', 'target_encoder')
DEFAULT_CHECKPOINT_KEY = CHECKPOINT_KEYS[0]
# What runs the encoder: PyTorch, or an exported file (vjepa-export) in ONNX Runtime or TensorRT.
BACKENDS = ('torch', 'onnxruntime', 'tensorrt')


def get_encoder_config(model_size: str) -> EncoderConfig:
    """Return the config for `model_size`, or raise ValueError naming the known sizes."""
    try:
        return ENCODER_CONFIGS[model_size]
    except KeyError:
        raise ValueError(
            f'unknown model_size {model_size!r}; choose one of {sorted(ENCODER_CONFIGS)} '
            '(tiny and small are test-only sizes without released weights)') from None
