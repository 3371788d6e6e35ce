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
vjepa-export: write the V-JEPA 2 encoder as ONNX for one clip shape, checked against PyTorch.

Writes FILE.onnx (and FILE.onnx.data for large models) and the sidecar FILE.json that the
detector's onnxruntime and tensorrt backends check before loading. The file is then run in
ONNX Runtime on the CPU beside PyTorch on a random clip; the sidecar is written only when they
agree within the tolerance (else the exit status is 1 and no backend loads the file). Finally
it prints the trtexec command that builds a TensorRT engine from the file on a Jetson.
"""

import argparse
import logging
from pathlib import Path
import sys
import warnings

from vjepa_nodes.encoder.build import build_encoder, RandomWeightsWarning
from vjepa_nodes.encoder.config import CHECKPOINT_KEYS, get_encoder_config, MODEL_VERSIONS
from vjepa_nodes.encoder.export_spec import (
    DEFAULT_OPSET, EXPORT_PRECISIONS, PARITY_TOLERANCE, sidecar_path)
from vjepa_nodes.encoder.onnx_export import (
    check_and_seal, export_onnx, export_spec, timed_step, trtexec_command)
from vjepa_nodes.encoder.vit import clip_token_grid
from vjepa_nodes.perception.config import MODEL_SIZES
from vjepa_nodes.tools.arguments import resolution


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Parse the command line; a bad value exits with status 2 before any work."""
    parser = argparse.ArgumentParser(
        prog='vjepa-export', description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--model-version', default='2', choices=tuple(MODEL_VERSIONS))
    parser.add_argument('--model-size', default='large', choices=MODEL_SIZES)
    weights = parser.add_mutually_exclusive_group(required=True)
    weights.add_argument('--checkpoint', help='official .pt, .safetensors, HF directory or id')
    weights.add_argument('--allow-random-weights', action='store_true',
                         help='export random weights (for tests and timing only)')
    parser.add_argument('--checkpoint-key', default=None, choices=CHECKPOINT_KEYS,
                        help="entry of an official .pt (default: the release's)")
    parser.add_argument('--frames', type=int, default=16)
    parser.add_argument('--resolution', type=resolution, default=(256, 256), metavar='HxW',
                        help='model input in pixels, e.g. 224x288 (what the detector feeds: '
                        'see docs/DEPLOY_JETSON.md); one number means square')
    parser.add_argument('--batch', type=int, default=1)
    parser.add_argument('--dynamic-batch', action='store_true',
                        help='any batch size (the trtexec command still fixes --batch)')
    parser.add_argument('--precision', default='fp32', choices=EXPORT_PRECISIONS)
    parser.add_argument('--opset', type=int, default=DEFAULT_OPSET)
    parser.add_argument('--output', required=True, type=Path, metavar='FILE.onnx')
    args = parser.parse_args(argv)
    if args.output.suffix != '.onnx':
        parser.error(f'--output must end in .onnx, got {args.output}')
    if args.batch < 1:
        parser.error(f'--batch must be at least 1, got {args.batch}')
    try:
        clip_token_grid(get_encoder_config(args.model_size, args.model_version),
                        (args.batch, 3, args.frames, *args.resolution))
    except ValueError as error:
        parser.error(str(error))
    return args


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    """Run vjepa-export with `argv` (default: the command line); return the exit status."""
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format='[%(levelname)s] %(message)s')
    try:
        with timed_step(f'loading the {args.model_size} encoder', _say), \
                warnings.catch_warnings():
            warnings.simplefilter('ignore', RandomWeightsWarning)  # said below, once
            encoder = build_encoder(args.model_size, model_version=args.model_version,
                                    checkpoint=args.checkpoint,
                                    checkpoint_key=args.checkpoint_key,
                                    allow_random_weights=args.allow_random_weights)
        spec = export_spec(encoder, args.model_size, args.frames, *args.resolution,
                           args.precision, batch=args.batch, dynamic_batch=args.dynamic_batch,
                           opset=args.opset)
        if spec.random_weights:
            _say('!! RANDOM WEIGHTS: the exported model is for tests and timing only')
        path = export_onnx(encoder, spec, args.output, _say)
        with timed_step('checking the file in onnxruntime against PyTorch', _say):
            error = check_and_seal(encoder, path, spec)
    except (ValueError, RuntimeError, ImportError, OSError) as error:
        _say(f'error: {error}')
        return 2
    tolerance = PARITY_TOLERANCE[spec.precision]
    print(f'relative error against PyTorch fp32: {error:.2e} (tolerance {tolerance:.0e} in '
          f'{spec.precision})')
    if not error <= tolerance:
        _say(f'error: {path} does not match PyTorch: no sidecar is written, so no backend '
             'loads it')
        return 1
    print(f'wrote {path} and {sidecar_path(path)}')
    print('build a TensorRT engine from it on the Jetson (fp16, fixed shapes):')
    print(f'  {trtexec_command(path, spec)}')
    if spec.precision == 'fp32':
        print('(on a GPU the detector runs fp16 unless precision says fp32: export with '
              '--precision fp16 for it)')
    return 0


if __name__ == '__main__':
    sys.exit(main())
