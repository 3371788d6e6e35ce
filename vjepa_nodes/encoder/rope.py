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
3D rotary position embedding as the released V-JEPA 2 and V-JEPA 2.1 weights expect it.

Each head's channels are split into three equal even blocks rotated by the token's time, row and
column index; the remaining channels pass through. Channels (2m, 2m+1) rotate as a pair.
- V-JEPA 2 tiles the sin/cos tables (`[f0..f_k, f0..f_k]`), so the two channels of a pair turn by
  different angles. The checkpoints were trained that way, so we reproduce it.
- V-JEPA 2.1 interleaves them (`[f0, f0, f1, f1, ...]`) and rescales row and column positions to
  its 16-patch pretraining grid, `pos * (16 - 1) / (patches - 1)`; time stays the frame index.
Angles are computed in fp32 whatever the model's dtype. The official 2.1 code computes them in
the activations' dtype: under bf16 autocast on CUDA they were off by up to 0.12 rad (position 65).
"""

import torch

ROPE_PAIRINGS = ('tiled', 'interleaved')


def rope_block_dim(head_dim: int) -> int:
    """Channels per axis block: the largest even number <= head_dim / 3."""
    return 2 * ((head_dim // 3) // 2)


def _axis_angles(positions: torch.Tensor, block_dim: int, theta: float,
                 pairing: str) -> torch.Tensor:
    """Angles (N, block_dim) for fp32 positions (N,), laid out as `pairing` says."""
    half = block_dim // 2
    exponents = torch.arange(half, dtype=torch.float32, device=positions.device) / half
    omega = 1.0 / theta ** exponents
    angles = positions[:, None] * omega[None, :]
    if pairing == 'tiled':
        return torch.cat([angles, angles], dim=-1)
    return angles.repeat_interleave(2, dim=-1)


def _positions(count: int, pretrain_grid: int, device: torch.device) -> torch.Tensor:
    positions = torch.arange(count, dtype=torch.float32, device=device)
    if pretrain_grid:  # count >= 2: clip_token_grid refuses a single patch row or column
        positions = positions * ((pretrain_grid - 1) / (count - 1))
    return positions


def rope_tables(grid: tuple[int, int, int], head_dim: int, theta: float,
                device: torch.device, pairing: str = 'tiled',
                pretrain_grid: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """
    Return fp32 (cos, sin) tables of shape (N, head_dim) for a (t, h, w) token grid.

    Tokens are ordered time-major, then row-major, as the patch embedding flattens them. The
    channels past the three axis blocks pass through: cos 1, sin 0 (exact in fp32), so that the
    rotation is one expression over the whole head, without slicing and concatenating.
    `pairing` and `pretrain_grid` are EncoderConfig.rope_pairing and .rope_pretrain_grid.
    """
    if pairing not in ROPE_PAIRINGS:
        raise ValueError(f'unknown RoPE pairing {pairing!r}; choose one of {ROPE_PAIRINGS}')
    frames, rows, cols = grid
    block_dim = rope_block_dim(head_dim)
    t_pos, h_pos, w_pos = torch.meshgrid(
        _positions(frames, 0, device), _positions(rows, pretrain_grid, device),
        _positions(cols, pretrain_grid, device), indexing='ij')
    angles = torch.cat([_axis_angles(pos.reshape(-1), block_dim, theta, pairing)
                        for pos in (t_pos, h_pos, w_pos)], dim=-1)
    angles = torch.nn.functional.pad(angles, (0, head_dim - angles.shape[-1]))
    return angles.cos(), angles.sin()


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate the channel pairs of x (..., N, head_dim) by the tables, computing in fp32."""
    x_float = x.float()
    even, odd = x_float.unflatten(-1, (-1, 2)).unbind(-1)
    partner = torch.stack((-odd, even), dim=-1).flatten(-2)
    return (x_float * cos + partner * sin).to(x.dtype)
