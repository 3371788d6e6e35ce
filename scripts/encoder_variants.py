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
The ViT-L 16x256 encoder on the fast path with one change at a time, for docs/PERFORMANCE.md.

Variants (--variants, comma list; each compiled and captured afresh):
- default: the fast path as shipped (compile+cuda_graph, SDPA's own backend choice, fc1 and
  its GELU in one cuBLASLt call: vjepa_nodes.encoder.fused_ops);
- flash, efficient, cudnn: SDPA forced to one backend while compiling and capturing;
- separate_gelu: fc1, then the exact GELU as a kernel of its own (timm's Mlp, as before);
Each row: median ms per clip over --iterations calls (host clock around synchronised calls, as
the node sees it) and the relative error against the plain fp32 encoder on the same clip.
With --profile-dir, a kernel table (torch.profiler) per variant and batch size.
Run on a CUDA machine: PYTHONPATH=. python scripts/encoder_variants.py --json PATH
"""

import argparse
import contextlib
from functools import partial
import json
import os
import statistics
import types

from timm.layers import Mlp
import torch
from torch import nn
from torch.nn.attention import sdpa_kernel, SDPBackend

from vjepa_nodes.encoder.build import build_encoder
from vjepa_nodes.encoder.fast_path import EncoderRunner
from vjepa_nodes.encoder.onnx_export import relative_error
from vjepa_nodes.tools.timing import time_call

BACKENDS = {'flash': SDPBackend.FLASH_ATTENTION, 'efficient': SDPBackend.EFFICIENT_ATTENTION,
            'cudnn': SDPBackend.CUDNN_ATTENTION}


def variant_encoder(reference: nn.Module, variant: str) -> nn.Module:
    """Return a bf16 CUDA copy of `reference` with `variant`'s module changes."""
    encoder = build_encoder('large', allow_random_weights=True)
    encoder.load_state_dict(reference.state_dict())
    if variant == 'separate_gelu':
        for block in encoder.blocks:
            block.mlp.forward = types.MethodType(Mlp.forward, block.mlp)
    return encoder.to('cuda', torch.bfloat16).eval()


def profile_table(runner: EncoderRunner, clip: torch.Tensor) -> str:
    from torch.profiler import profile, ProfilerActivity
    with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
        for _ in range(5):
            runner(clip)
        torch.cuda.synchronize()
    return prof.key_averages().table(sort_by='cuda_time_total', row_limit=30,
                                     max_name_column_width=70)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--variants', default='default,flash,efficient,separate_gelu')
    parser.add_argument('--batch-sizes', default='1,8')
    parser.add_argument('--iterations', type=int, default=50)
    parser.add_argument('--profile-dir', default=None)
    parser.add_argument('--json', default='encoder_variants.json')
    args = parser.parse_args()
    torch.manual_seed(0)
    # Compiled code cached on disk does not know which SDPA backend was forced: compile afresh.
    torch._inductor.config.fx_graph_cache = False
    reference = build_encoder('large', allow_random_weights=True).eval()
    batch_sizes = [int(size) for size in args.batch_sizes.split(',')]
    clips = {size: torch.randn(size, 3, 16, 256, 256) for size in batch_sizes}
    with torch.inference_mode():
        fp32 = reference.to('cuda')
        expected = {size: fp32(clip.cuda()).float() for size, clip in clips.items()}
        fp32.cpu()
    rows = []
    for variant in args.variants.split(','):
        encoder = variant_encoder(reference, variant)
        runner = EncoderRunner(encoder, 'compile+cuda_graph')
        for size in batch_sizes:
            clip = clips[size].to('cuda', torch.bfloat16)
            with sdpa_kernel(BACKENDS[variant]) if variant in BACKENDS else (
                    contextlib.nullcontext()):
                setup, tokens = time_call(partial(runner, clip), clip.device)
            times = [time_call(partial(runner, clip), clip.device)[0] * 1e3
                     for _ in range(args.iterations)]
            row = {'variant': variant, 'batch': size, 'setup_s': round(setup, 1),
                   'ms_per_clip': statistics.median(times) / size,
                   'min_ms_per_clip': min(times) / size,
                   'clips_per_s': 1e3 * size / statistics.median(times),
                   'rel_error_vs_fp32': relative_error(tokens, expected[size])}
            rows.append(row)
            print(json.dumps(row), flush=True)
            if args.profile_dir:
                os.makedirs(args.profile_dir, exist_ok=True)
                with open(f'{args.profile_dir}/{variant}_b{size}.txt', 'w') as out:
                    out.write(profile_table(runner, clip))
        del runner, encoder
        torch._dynamo.reset()
        torch.cuda.empty_cache()
    info = {'gpu': torch.cuda.get_device_name(0), 'torch': torch.__version__,
            'cuda': torch.version.cuda}
    with open(args.json, 'w') as out:
        json.dump({'machine': info, 'rows': rows}, out, indent=1)
    for row in rows:
        print(f"{row['variant']:>14} b{row['batch']}  {row['ms_per_clip']:.3f} ms/clip  "
              f"{row['clips_per_s']:.0f} clips/s  rel err {row['rel_error_vs_fp32']:.2e}")


if __name__ == '__main__':
    main()
