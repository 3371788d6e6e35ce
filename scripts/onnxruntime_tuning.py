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
Time onnxruntime session settings on full-width ViT-L blocks; print a table, write JSON.

The variants and PyTorch take turns on the same clip (time_together), so background load hits
all of them alike. docs/PERFORMANCE.md quotes a run:
    .venv/bin/python scripts/onnxruntime_tuning.py --depth 6 --json docs/benchmarks/...json
"""

import argparse
import dataclasses
import json
import statistics
import tempfile

import onnxruntime
import torch

from vjepa_nodes.encoder.build import RANDOM_WEIGHTS_SOURCE
from vjepa_nodes.encoder.config import ENCODER_CONFIGS
from vjepa_nodes.encoder.export_spec import INPUT_NAME
from vjepa_nodes.encoder.onnx_export import export_onnx, export_spec, relative_error
from vjepa_nodes.encoder.onnxruntime_encoder import session_options
from vjepa_nodes.encoder.vit import VJepa2Encoder
from vjepa_nodes.perception.backends import ONNX_FILE
from vjepa_nodes.tools.tables import align
from vjepa_nodes.tools.timing import time_together

LEVELS = onnxruntime.GraphOptimizationLevel


def options(level=LEVELS.ORT_ENABLE_ALL, threads=0, spinning='1', arena=True):
    chosen = onnxruntime.SessionOptions()
    chosen.graph_optimization_level = level
    chosen.intra_op_num_threads = threads
    chosen.enable_cpu_mem_arena = arena
    chosen.add_session_config_entry('session.intra_op.allow_spinning', spinning)
    return chosen


VARIANTS = {
    'used (session_options)': session_options,
    'level ALL, spinning on': lambda: options(),
    'level EXTENDED': lambda: options(LEVELS.ORT_ENABLE_EXTENDED),
    'level BASIC': lambda: options(LEVELS.ORT_ENABLE_BASIC),
    'no graph optimisation': lambda: options(LEVELS.ORT_DISABLE_ALL),
    '1 intra-op thread': lambda: options(threads=1),
    'CPU memory arena off': lambda: options(arena=False),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--depth', type=int, default=6, help='ViT-L blocks (24: the full model)')
    parser.add_argument('--rounds', type=int, default=7)
    parser.add_argument('--json', default='onnxruntime_tuning.json')
    args = parser.parse_args()
    torch.manual_seed(0)
    config = dataclasses.replace(ENCODER_CONFIGS['large'], depth=args.depth)
    encoder = VJepa2Encoder(config).eval().requires_grad_(False)
    encoder.weights_source = RANDOM_WEIGHTS_SOURCE
    spec = export_spec(encoder, 'large', 16, 256, 256, 'fp32')
    clip = torch.randn(spec.clip_shape)
    with torch.inference_mode():
        expected = encoder(clip)
    calls, errors = {}, {}
    with tempfile.TemporaryDirectory() as directory:
        path = str(export_onnx(encoder, spec, f'{directory}/{ONNX_FILE}', report=print))
        for name, make in VARIANTS.items():
            session = onnxruntime.InferenceSession(path, make(),
                                                   providers=['CPUExecutionProvider'])
            tokens = torch.from_numpy(session.run(None, {INPUT_NAME: clip.numpy()})[0])
            errors[name] = relative_error(tokens, expected)
            calls[name] = lambda session=session: session.run(None, {INPUT_NAME: clip.numpy()})

        def eager():
            with torch.inference_mode():
                encoder(clip)
        calls['PyTorch eager'], errors['PyTorch eager'] = eager, 0.0
        timings = time_together(list(calls.values()), torch.device('cpu'), args.rounds, 1e9)
    rows = [{'variant': name, 'ms': statistics.median(samples) * 1e3, 'calls': len(samples),
             'rel_error_vs_torch': errors[name]}
            for name, (_, samples, _) in zip(calls, timings)]
    print(align([['variant', 'median ms', 'calls', 'rel.err']] + [
        [row['variant'], f'{row["ms"]:.0f}', str(row['calls']),
         f'{row["rel_error_vs_torch"]:.1e}'] for row in rows]))
    with open(args.json, 'w') as out:
        json.dump({'depth': args.depth, 'clip': list(spec.clip_shape),
                   'onnxruntime': onnxruntime.__version__, 'torch': torch.__version__,
                   'threads': torch.get_num_threads(), 'rows': rows}, out, indent=1)
    print(f'wrote {args.json}')


if __name__ == '__main__':
    main()
