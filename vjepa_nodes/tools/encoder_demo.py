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

"""Run a V-JEPA 2 or 2.1 encoder on a generated clip; print device, precision, shape, latency."""

import argparse
import logging
import statistics
import sys
import warnings

import torch

from vjepa_nodes.device import DEVICE_CHOICES, precision_name, resolve_device_and_precision
from vjepa_nodes.encoder import (
    build_encoder, clip_token_grid, get_encoder_config, RANDOM_WEIGHTS_SOURCE,
    RandomWeightsWarning)
from vjepa_nodes.encoder.config import (
    CHECKPOINT_KEYS, IMAGENET_MEAN, IMAGENET_STD, MODEL_VERSIONS, PRECISION_CHOICES)
from vjepa_nodes.perception.config import MODEL_SIZES
from vjepa_nodes.tools.timing import time_call


def generated_clip(num_frames: int, height: int, width: int) -> torch.Tensor:
    """Return a normalised (1, 3, T, H, W) clip: an inverted square sliding over a pattern."""
    rows = torch.linspace(0, 1, height)[:, None]
    cols = torch.linspace(0, 1, width)[None, :]
    frames = []
    for t in range(num_frames):
        frame = torch.stack([rows.expand(height, width), cols.expand(height, width),
                             0.5 + 0.5 * torch.sin(20 * rows * cols).expand(height, width)])
        top, left = height // 4, (width // 8) + t * width // (2 * num_frames)
        frame[:, top:top + height // 3, left:left + width // 3] = 1.0 - frame[
            :, top:top + height // 3, left:left + width // 3]
        frames.append(frame)
    clip = torch.stack(frames, dim=1)  # (3, T, H, W)
    mean = torch.tensor(IMAGENET_MEAN)[:, None, None, None]
    std = torch.tensor(IMAGENET_STD)[:, None, None, None]
    return ((clip - mean) / std)[None]


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f'{value} is not a positive integer')
    return value


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--model-version', default='2', choices=tuple(MODEL_VERSIONS))
    parser.add_argument('--model-size', default='large', choices=MODEL_SIZES)
    parser.add_argument('--num-frames', type=_positive_int, default=16)
    parser.add_argument('--height', type=_positive_int, default=256)
    parser.add_argument('--width', type=_positive_int, default=256)
    parser.add_argument('--device', default='auto',
                        help=f'{", ".join(DEVICE_CHOICES)} or cuda:N (default: auto)')
    parser.add_argument('--precision', default='auto', choices=PRECISION_CHOICES)
    parser.add_argument('--checkpoint', default=None,
                        help='official .pt, .safetensors, HF snapshot directory or HF model id')
    parser.add_argument('--checkpoint-key', default=None, choices=CHECKPOINT_KEYS,
                        help="entry of an official .pt (default: the release's)")
    parser.add_argument('--allow-random-weights', action='store_true',
                        help='run without a checkpoint on random weights (output is meaningless)')
    parser.add_argument('--iterations', type=_positive_int, default=3,
                        help='timed runs after one warm-up')
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format='[%(levelname)s] %(message)s')
    try:
        clip_shape = (1, 3, args.num_frames, args.height, args.width)
        clip_token_grid(get_encoder_config(args.model_size, args.model_version),
                        clip_shape)  # before any loading
        device, dtype = resolve_device_and_precision(args.device, args.precision)
        with warnings.catch_warnings():
            warnings.simplefilter('ignore', RandomWeightsWarning)  # the banner says it louder
            encoder = build_encoder(args.model_size, model_version=args.model_version,
                                    checkpoint=args.checkpoint,
                                    checkpoint_key=args.checkpoint_key,
                                    allow_random_weights=args.allow_random_weights)
    except (ValueError, RuntimeError) as exc:
        print(f'error: {exc}', file=sys.stderr)
        return 2
    if encoder.weights_source == RANDOM_WEIGHTS_SOURCE:
        print('\n' + '!' * 78 + '\n!! RANDOM WEIGHTS: this run measures speed only; the features '
              'mean nothing.\n!! Give real weights with --checkpoint (see README: "Getting the '
              'official weights").\n' + '!' * 78 + '\n')
    encoder.to(device=device, dtype=dtype)
    clip = generated_clip(args.num_frames, args.height, args.width).to(device=device, dtype=dtype)
    latencies = []
    with torch.inference_mode():
        for _ in range(1 + args.iterations):
            seconds, tokens = time_call(lambda: encoder(clip), device)
            latencies.append(seconds)
    timed = latencies[1:]
    parameters = sum(p.numel() for p in encoder.parameters())
    print(f'model      V-JEPA {args.model_version} {args.model_size} ({parameters:,} parameters)')
    print(f'weights    {encoder.weights_source}')
    print(f'device     {device}')
    print(f'precision  {precision_name(dtype)}')
    print(f'input      {tuple(clip.shape)} (B, C, T, H, W)')
    print(f'output     {tuple(tokens.shape)} (B, N, D)')
    print(f'latency    {statistics.median(timed) * 1e3:.0f} ms per clip (median of {len(timed)}; '
          f'warm-up {latencies[0] * 1e3:.0f} ms)')
    return 0


if __name__ == '__main__':
    sys.exit(main())
