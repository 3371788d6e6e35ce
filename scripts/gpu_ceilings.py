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
Ceilings for docs/PERFORMANCE.md, measured in the same run as the benchmark.

Prints the bf16 matrix-product rate (the compute ceiling), the device-to-device copy bandwidth
and, for the attention shape of a ViT-L 16x256 clip, the time of each SDPA backend.
Run on a CUDA machine: python scripts/gpu_ceilings.py [--json PATH]
"""

import argparse
import json

import torch
from torch.nn.attention import sdpa_kernel, SDPBackend
import torch.nn.functional as F


def cuda_ms(function, repeats: int = 20) -> float:
    """Median milliseconds of `function` on the GPU (events), after warm-up."""
    for _ in range(3):
        function()
    times = []
    for _ in range(repeats):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        function()
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end))
    return sorted(times)[len(times) // 2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--json', default=None)
    args = parser.parse_args()
    results = {'gpu': torch.cuda.get_device_name(0), 'torch': torch.__version__}
    size = 8192
    a, b = (torch.randn(size, size, device='cuda', dtype=torch.bfloat16) for _ in range(2))
    results['bf16_matmul_tflops'] = 2 * size ** 3 / cuda_ms(lambda: a @ b) / 1e9
    source = torch.randn(2 ** 30 // 4, device='cuda')  # 1 GiB fp32
    target = torch.empty_like(source)
    results['copy_tb_per_s'] = 2 * source.numel() * 4 / cuda_ms(lambda: target.copy_(source)) / 1e9
    # ViT-L 16x256: 2048 tokens, 16 heads of 64 channels; batch 1 and 4.
    for batch in (1, 4):
        q, k, v = (torch.randn(batch, 16, 2048, 64, device='cuda', dtype=torch.bfloat16)
                   for _ in range(3))
        flops = 4 * batch * 16 * 2048 * 2048 * 64
        for backend in (SDPBackend.FLASH_ATTENTION, SDPBackend.EFFICIENT_ATTENTION,
                        SDPBackend.CUDNN_ATTENTION):
            try:
                with sdpa_kernel(backend):
                    ms = cuda_ms(lambda: F.scaled_dot_product_attention(q, k, v))
                results[f'sdpa_b{batch}_{backend.name}_ms'] = ms
                results[f'sdpa_b{batch}_{backend.name}_tflops'] = flops / ms / 1e9
            except RuntimeError as error:
                results[f'sdpa_b{batch}_{backend.name}'] = f'unavailable: {error}'[:120]
    for key, value in results.items():
        print(f'{key:>36}  {value:.3f}' if isinstance(value, float) else f'{key:>36}  {value}')
    if args.json:
        with open(args.json, 'w') as out:
            json.dump(results, out, indent=1)


if __name__ == '__main__':
    main()
