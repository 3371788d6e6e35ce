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
The V-JEPA 2 / 2.1 encoder in MLX: Apple's array framework (Metal on Macs; CPU or CUDA builds).

The same model as vjepa_nodes.encoder.vit, module for module and with the same parameter names,
so that a PyTorch state dict loads after one change: each tokenizer's Conv3d weight is stored
flattened, as the matrix its stride-equals-kernel convolution is. RoPE tables come from
vjepa_nodes.encoder.rope (fp32, computed once per grid); `mx.fast.rope` rotates along one axis
and cannot express V-JEPA's three. Nothing here uses 64-bit floats (Metal has none).
"""

from vjepa_nodes.backend_choice import MLX_INSTALL_HINT
from vjepa_nodes.encoder.config import EncoderConfig

try:
    import mlx.core as mx
    import mlx.nn as nn
except ImportError as error:
    raise ImportError(f'backend mlx needs MLX, which cannot be imported here ({error}): '
                      f'{MLX_INSTALL_HINT}') from error

MLX_DTYPES = {'fp32': mx.float32, 'fp16': mx.float16, 'bf16': mx.bfloat16}
TOKENIZERS = ('patch_embed', 'patch_embed_img')


class PatchEmbed3D(nn.Module):
    """Tubelet x patch x patch cubes, each embedded by one matrix product (`proj`)."""

    def __init__(self, in_chans: int, embed_dim: int, patch_size: int, tubelet_size: int) -> None:
        super().__init__()
        self.size = (tubelet_size, patch_size, patch_size)
        self.proj = nn.Linear(in_chans * tubelet_size * patch_size * patch_size, embed_dim)

    def __call__(self, clip: mx.array) -> mx.array:
        batch, chans, frames, height, width = clip.shape
        tubelet, patch, _ = self.size
        cubes = clip.reshape(batch, chans, frames // tubelet, tubelet, height // patch, patch,
                             width // patch, patch)
        # (B, T', H', W', C, tubelet, patch, patch): the PyTorch encoder's token and weight order.
        cubes = cubes.transpose(0, 2, 4, 6, 1, 3, 5, 7)
        tokens = (frames // tubelet) * (height // patch) * (width // patch)
        return self.proj(cubes.reshape(batch, tokens, -1))


def apply_rope(x: mx.array, cos: mx.array, sin: mx.array) -> mx.array:
    """Rotate the channel pairs (2m, 2m+1) of x (..., N, head_dim) by the tables, in fp32."""
    x_float = x.astype(mx.float32)
    pairs = x_float.reshape(*x.shape[:-1], -1, 2)
    partner = mx.stack((-pairs[..., 1], pairs[..., 0]), axis=-1).reshape(x.shape)
    return (x_float * cos + partner * sin).astype(x.dtype)


class RopeAttention(nn.Module):
    """Multi-head self-attention with a fused qkv projection and 3D RoPE on queries and keys."""

    def __init__(self, dim: int, num_heads: int) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def __call__(self, x: mx.array, cos: mx.array, sin: mx.array) -> mx.array:
        batch, tokens, dim = x.shape
        qkv = self.qkv(x).reshape(batch, tokens, 3, self.num_heads, self.head_dim)
        qkv = qkv.transpose(2, 0, 3, 1, 4)  # (3, B, heads, N, head_dim)
        rotated = apply_rope(qkv[:2], cos, sin)
        # Softmax runs in fp32 inside the fused kernel whatever the inputs' precision.
        x = mx.fast.scaled_dot_product_attention(rotated[0], rotated[1], qkv[2],
                                                 scale=self.head_dim ** -0.5)
        return self.proj(x.transpose(0, 2, 1, 3).reshape(batch, tokens, dim))


class Mlp(nn.Module):
    """fc1, exact (erf) GELU, fc2: timm's Mlp, as the checkpoints were trained with."""

    def __init__(self, dim: int, hidden_dim: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden_dim)
        self.fc2 = nn.Linear(hidden_dim, dim)

    def __call__(self, x: mx.array) -> mx.array:
        return self.fc2(nn.gelu(self.fc1(x)))


class Block(nn.Module):
    """Pre-norm transformer block: x + attn(norm1(x)), then x + mlp(norm2(x))."""

    def __init__(self, dim: int, num_heads: int, mlp_hidden_dim: int, norm_eps: float) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=norm_eps)
        self.attn = RopeAttention(dim, num_heads)
        self.norm2 = nn.LayerNorm(dim, eps=norm_eps)
        self.mlp = Mlp(dim, mlp_hidden_dim)

    def __call__(self, x: mx.array, cos: mx.array, sin: mx.array) -> mx.array:
        x = x + self.attn(self.norm1(x), cos, sin)
        return x + self.mlp(self.norm2(x))


class MlxVJepaEncoder(nn.Module):
    """
    The encoder of `config` in MLX: normalised clip (B, C, T, H, W) -> tokens (B, N, D).

    The caller checks the clip (vit.clip_token_grid) and passes its grid's RoPE tables.
    """

    def __init__(self, config: EncoderConfig) -> None:
        super().__init__()
        self.config = config
        dim = config.embed_dim
        self.patch_embed = PatchEmbed3D(config.in_chans, dim, config.patch_size,
                                        config.tubelet_size)
        if config.modality_embeddings:
            self.patch_embed_img = PatchEmbed3D(config.in_chans, dim, config.patch_size, 1)
            self.img_mod_embed = mx.zeros((1, 1, dim))
            self.video_mod_embed = mx.zeros((1, 1, dim))
        self.blocks = [Block(dim, config.num_heads, config.mlp_hidden_dim, config.norm_eps)
                       for _ in range(config.depth)]
        if config.hierarchical_layers:
            # Only the last is used here (the output); the others are kept so that the state
            # dict loads strictly, as released.
            self.norms_block = [nn.LayerNorm(dim, eps=config.norm_eps)
                                for _ in config.hierarchical_layers]
        else:
            self.norm = nn.LayerNorm(dim, eps=config.norm_eps)

    def __call__(self, clip: mx.array, cos: mx.array, sin: mx.array) -> mx.array:
        x = self._tokens(clip)
        for block in self.blocks:
            x = block(x, cos, sin)
        return self.norms_block[-1](x) if self.config.hierarchical_layers else self.norm(x)

    def _tokens(self, clip: mx.array) -> mx.array:
        if not self.config.modality_embeddings:
            return self.patch_embed(clip)
        if clip.shape[2] == 1:
            return self.patch_embed_img(clip) + self.img_mod_embed
        return self.patch_embed(clip) + self.video_mod_embed
