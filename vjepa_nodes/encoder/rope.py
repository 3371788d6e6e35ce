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
3D rotary position embedding as the released V-JEPA 2 weights expect it.

Each head's channels are split into three equal even blocks rotated by the token's time, row and
column index; the remaining channels pass through. The official code tiles the sin/cos tables
(`[f0..f_k, f0..f_k]`) while pairing channels (2m, 2m+1) for the rotation, so the two channels of
a pair turn by different angles. The checkpoints were trained that way, so we reproduce it.
"""

import torch


def rope_block_dim(head_dim: int) -> int:
    """Channels per axis block: the largest even number <= head_dim / 3."""
    return 2 * ((head_dim // 3) // 2)


def _axis_angles(positions: torch.Tensor, block_dim: int, theta: float) -> torch.Tensor:
    """Angles (N, block_dim) for integer positions (N,), tiled as in the official code."""
    half = block_dim // 2
    exponents = torch.arange(half, dtype=torch.float32, device=positions.device) / half
    omega = 1.0 / theta ** exponents
    angles = positions.to(torch.float32)[:, None] * omega[None, :]
    return torch.cat([angles, angles], dim=-1)


def rope_tables(grid: tuple[int, int, int], head_dim: int, theta: float,
                device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """
    Return fp32 (cos, sin) tables of shape (N, head_dim) for a (t, h, w) token grid.

    Tokens are ordered time-major, then row-major, as the patch embedding flattens them. The
    channels past the three axis blocks pass through: cos 1, sin 0 (exact in fp32), so that the
    rotation is one expression over the whole head, without slicing and concatenating.
    """
    frames, rows, cols = grid
    block_dim = rope_block_dim(head_dim)
    t_idx, h_idx, w_idx = torch.meshgrid(
        torch.arange(frames, device=device), torch.arange(rows, device=device),
        torch.arange(cols, device=device), indexing='ij')
    angles = torch.cat([_axis_angles(idx.reshape(-1), block_dim, theta)
                        for idx in (t_idx, h_idx, w_idx)], dim=-1)
    angles = torch.nn.functional.pad(angles, (0, head_dim - angles.shape[-1]))
    return angles.cos(), angles.sin()


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate the channel pairs of x (..., N, head_dim) by the tables, computing in fp32."""
    x_float = x.float()
    even, odd = x_float.unflatten(-1, (-1, 2)).unbind(-1)
    partner = torch.stack((-odd, even), dim=-1).flatten(-2)
    return (x_float * cos + partner * sin).to(x.dtype)
