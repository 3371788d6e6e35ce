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
vjepa-benchmark: time V-JEPA 2 clip encoding and the detector around it; print a table, write JSON.

Every combination of model size x frame count x resolution x device x precision x batch size x
fast path is timed on the same random clip; `--backends torch,onnxruntime,mlx` adds the encoder
exported to ONNX and the encoder converted to MLX for each case, timed in turns with the PyTorch
paths (same load on all). MLX runs on the CPU for a cpu row and on its GPU for a cuda or mps row
when it drives that kind of GPU. Each row gives the median ms per clip (the headline) with the
fastest and the slowest call, the relative error against plain fp32 on the same device (same
weights, same clip), the speed-up over the torch row of the same case (the fast path auto means
there: 'vs torch') and over the plain fp32 CPU row of the same shape when the CPU was measured
too ('vs CPU'). `--compare` adds Hugging Face transformers (eager and compiled) and, with
`--official-repo`, the official code. `--pipeline` times the detector on camera
frames, `--end-to-end` the running ROS 2 nodes from image stamp to cmd_vel (see
latency_benchmark).
"""

import argparse
from dataclasses import asdict
import importlib.util
import json
import logging
import sys

from vjepa_nodes.backend_choice import MLX_INSTALL_HINT, mlx_version
from vjepa_nodes.device import DEVICE_CHOICES
from vjepa_nodes.encoder.config import FAST_PATHS, PRECISION_CHOICES
from vjepa_nodes.encoder.fast_path import COMPILE_MODES
from vjepa_nodes.tools.arguments import choice, csv_of, model_name, resolution
from vjepa_nodes.tools.encoder_benchmark import (
    BENCHMARK_BACKENDS, encoder_rows, format_table, PLAIN)
from vjepa_nodes.tools.machine import machine_info
from vjepa_nodes.tools.pipeline_benchmark import pipeline_rows

LAYOUTS = ('batched', 'separate', 'aligned')  # --end-to-end, several cameras: latency_benchmark


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Parse the command line; a bad value exits with status 2 before any work."""
    parser = argparse.ArgumentParser(
        prog='vjepa-benchmark', description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--model-sizes', type=csv_of(model_name), default=['large'],
                        help='V-JEPA 2 sizes (large, huge, giant) and V-JEPA 2.1 ones as '
                        '2.1:SIZE (2.1:base, 2.1:large, 2.1:giant, 2.1:gigantic)')
    parser.add_argument('--frames', type=csv_of(int), default=[16])
    parser.add_argument('--resolutions', type=csv_of(resolution), default=[(256, 256)],
                        help='comma list of S or HxW (default 256)')
    parser.add_argument('--devices', type=csv_of(choice(DEVICE_CHOICES)), default=['auto'])
    parser.add_argument('--precisions', type=csv_of(choice(PRECISION_CHOICES)),
                        default=['auto'])
    parser.add_argument('--batch-sizes', type=csv_of(int), default=[1])
    parser.add_argument('--backends', type=csv_of(choice(BENCHMARK_BACKENDS)), default=['torch'],
                        help='comma list of torch (each --fast-paths entry), onnxruntime (the '
                        'encoder exported for each case) and mlx (the encoder converted to MLX '
                        "for each case: MLX's CPU, or its GPU for a cuda or mps device it "
                        'drives, with mx.compile there), timed in turns; --end-to-end runs '
                        'the detector node with the first; TensorRT engines: '
                        'trtexec --loadEngine=FILE.engine prints their latency')
    parser.add_argument('--fast-paths', type=csv_of(choice(FAST_PATHS)), default=[PLAIN, 'auto'])
    parser.add_argument('--compile-mode', default=COMPILE_MODES[0], choices=COMPILE_MODES)
    parser.add_argument('--iterations', type=int, default=20, help='timed calls per case (max)')
    parser.add_argument('--max-seconds', type=float, default=20.0,
                        help='fewer timed calls when a case would take longer (at least 2)')
    parser.add_argument('--checkpoint', default=None,
                        help='weights to time with (default: random weights; speed is the same)')
    parser.add_argument('--compare', action='store_true',
                        help='also time transformers (eager and compiled) when installed')
    parser.add_argument('--official-repo', default=None,
                        help='with --compare: a facebookresearch/vjepa2 checkout to time as well')
    parser.add_argument('--no-accuracy', action='store_true',
                        help='skip the fp32 reference runs (no rel. error column)')
    parser.add_argument('--profile-dir', default=None,
                        help='write a torch.profiler kernel table per vjepa_nodes case here')
    parser.add_argument('--pipeline', action='store_true',
                        help='time the detector on --camera frames: encoder and the rest')
    parser.add_argument('--surprise', action='store_true',
                        help='with --pipeline: time each case again with surprise on (the '
                        "checkpoint's predictor, else a random one)")
    parser.add_argument('--end-to-end', action='store_true',
                        help='time image stamp -> perception -> cmd_vel through running '
                        'detector and collision_avoidance nodes, per stage (first of each '
                        'list; the last fast path)')
    parser.add_argument('--cameras', type=csv_of(int), default=None, metavar='N,...',
                        help='--end-to-end with N cameras, for each N (default 1; implies '
                        '--end-to-end)')
    parser.add_argument('--layouts', type=csv_of(choice(LAYOUTS)), default=list(LAYOUTS[:2]),
                        help='--end-to-end with several cameras: one detector node for all '
                        '(batched), one node per camera (separate), one detector without '
                        'stagger_clips (aligned); default batched,separate')
    parser.add_argument('--camera', type=resolution, default=(480, 640), metavar='HxW',
                        help='camera frame size for --pipeline and --end-to-end')
    parser.add_argument('--camera-fps', type=float, default=30.0)
    parser.add_argument('--stride', type=int, default=8, help='new frames per analysed clip')
    parser.add_argument('--duration', type=float, default=30.0,
                        help='--end-to-end: seconds timed after the first results')
    parser.add_argument('--startup-timeout', type=float, default=600.0,
                        help='--end-to-end: seconds allowed for the first results')
    parser.add_argument('--json', default='vjepa_benchmark.json', help='where to write results')
    args = parser.parse_args(argv)
    missing = [name for name in ('onnxruntime', 'onnxscript')
               if 'onnxruntime' in args.backends and importlib.util.find_spec(name) is None]
    if missing:
        parser.error(f'--backends onnxruntime needs {" and ".join(missing)}: pip install '
                     "'vjepa_nodes[onnx]'")
    if 'mlx' in args.backends and mlx_version() is None:
        parser.error(f'--backends mlx needs MLX: {MLX_INSTALL_HINT}')
    return args


def main(argv: list[str] | None = None) -> int:
    """Run vjepa-benchmark with `argv` (default: the command line); return the exit status."""
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format='[%(levelname)s] %(message)s')
    if args.end_to_end or args.cameras:
        from vjepa_nodes.ros.latency_benchmark import run_end_to_end
        args.cameras = args.cameras or [1]
        try:
            return run_end_to_end(args)
        except RuntimeError as error:
            print(f'error: {error}', file=sys.stderr)
            return 1
    try:
        if args.pipeline:
            rows, table = pipeline_rows(args)
        else:
            rows = encoder_rows(args)
            table = format_table(rows)
    except (ValueError, RuntimeError) as error:
        print(f'error: {error}', file=sys.stderr)
        return 2
    if not args.checkpoint:
        print('(random weights: speed only; the rel. error column compares like with like)')
    print(table)
    with open(args.json, 'w') as out:
        json.dump({'machine': machine_info(), 'rows': [asdict(row) for row in rows]}, out,
                  indent=1)
    print(f'wrote {args.json}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
