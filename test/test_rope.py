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

"""3D RoPE: channel split, token positions and the official tiled-table quirk."""

import math

import pytest
import torch

from vjepa_nodes.encoder.rope import apply_rope, rope_block_dim, rope_tables


@pytest.mark.parametrize(('head_dim', 'block_dim'), [(64, 20), (80, 26), (32, 10), (88, 28)])
def test_block_dim_matches_released_models(head_dim, block_dim):
    assert rope_block_dim(head_dim) == block_dim


def test_quirk_pairs_turn_by_tiled_angles():
    # The official code rotates the pair (x0, x1) of e0 at time position 3 into
    # (cos(3 * w0), sin(3 * w1)): two different frequencies, because the tables are tiled.
    head_dim, block = 64, 20
    cos, sin = rope_tables((4, 1, 1), head_dim, 10000.0, torch.device('cpu'))
    x = torch.zeros(1, 1, 4, head_dim)
    x[..., 0] = 1.0
    out = apply_rope(x, cos, sin)[0, 0, 3]
    omega = [10000.0 ** (-j / (block // 2)) for j in range(block // 2)]
    assert out[0].item() == pytest.approx(math.cos(3 * omega[0]), abs=1e-6)
    assert out[1].item() == pytest.approx(math.sin(3 * omega[1]), abs=1e-6)
    assert out[2:].abs().max().item() == 0.0


def test_positions_follow_time_row_column_order():
    grid = (2, 3, 4)
    block = rope_block_dim(64)
    cos, _ = rope_tables(grid, 64, 10000.0, torch.device('cpu'))
    # Channel 1 of each block uses frequency 1; its angle is position * 10000^(-1/(block/2)).
    omega1 = 10000.0 ** (-1 / (block // 2))
    for index in range(math.prod(grid)):
        t, rest = divmod(index, grid[1] * grid[2])
        h, w = divmod(rest, grid[2])
        for axis, position in enumerate((t, h, w)):
            expected = math.cos(position * omega1)
            assert cos[index, axis * block + 1].item() == pytest.approx(expected, abs=1e-6)


def test_leftover_channels_pass_through_and_rotation_keeps_dtype():
    cos, sin = rope_tables((2, 2, 2), 80, 10000.0, torch.device('cpu'))
    x = torch.randn(2, 3, 8, 80, dtype=torch.bfloat16)
    out = apply_rope(x, cos, sin)
    assert out.dtype == torch.bfloat16
    assert torch.equal(out[..., 78:], x[..., 78:])  # bit-exact: cos 1, sin 0
    assert not torch.equal(out[..., :78], x[..., :78])
