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
A fused CUDA kernel for the encoder's MLP in half precision, as an op torch.compile keeps whole.

`linear_gelu` is fc1 and its GELU in one cuBLASLt matrix product with a bias+GELU epilogue,
instead of a product and a separate GELU kernel that reads and writes the 4x-wide hidden
activations again: ViT-L 16x256 bf16 on an H100 went from 3.95 to 3.71 ms per clip at batch 1
(docs/PERFORMANCE.md). cuBLASLt's GELU is the tanh approximation, whose difference from the
exact GELU is far below bf16 and fp16 rounding: the error against fp32 stayed the same
(7.3e-3 against 7.6e-3). Registered as a custom op so that Inductor neither splits it into a
product and a pointwise kernel nor traces into it; it needs torch >= 2.4 (older: not used).
"""

import torch

HALF = (torch.float16, torch.bfloat16)


def _linear_gelu(rows: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    return torch._addmm_activation(bias, rows, weight.t(), use_gelu=True)


def _linear_gelu_shape(rows: torch.Tensor, weight: torch.Tensor,
                       bias: torch.Tensor) -> torch.Tensor:
    return rows.new_empty(rows.shape[0], weight.shape[0])


if hasattr(torch.library, 'custom_op'):
    linear_gelu = torch.library.custom_op('vjepa_nodes::linear_gelu', _linear_gelu,
                                          mutates_args=())
    linear_gelu.register_fake(_linear_gelu_shape)
else:  # torch < 2.4
    linear_gelu = None


def fused_gelu_applies(x: torch.Tensor) -> bool:
    """Return whether linear_gelu should compute an MLP's fc1 and GELU for `x`."""
    return linear_gelu is not None and x.is_cuda and x.dtype in HALF
