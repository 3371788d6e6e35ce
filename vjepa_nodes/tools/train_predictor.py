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
vjepa-train-predictor: train a surprise predictor on your robot's own recordings.

Unlabeled rosbag2 folders (an image topic, as vjepa-bag reads them) or video files are cut into
clips as the detector cuts them; the encoder (the detector's settings: --params-file, --param)
stays frozen and the predictor learns to predict each clip's newest surprise_horizon tubelets
from the earlier ones. The last --validation fraction of each recording is held out and its
loss reported. The output is a .pt in the official layout (a `predictor` entry) with a .json
sidecar: set it as the detector's predictor_checkpoint with surprise on. Its validation loss
becomes the detector's default surprise_baseline. `--steps 0` only reports the validation loss
of the starting predictor (e.g. a released one, to set surprise_baseline).
"""

import argparse
from pathlib import Path
import random
import sys
import time

import torch

from vjepa_nodes.device import resolve_device_and_precision
from vjepa_nodes.encoder.build import build_encoder
from vjepa_nodes.encoder.checkpoint import CheckpointError
from vjepa_nodes.encoder.config import get_encoder_config
from vjepa_nodes.encoder.onnx_export import weights_digest
from vjepa_nodes.encoder.predictor import trainable_predictor_config, VJepaPredictor
from vjepa_nodes.encoder.predictor_files import load_predictor, save_predictor, TrainedOn
from vjepa_nodes.perception.config import DetectorConfig
from vjepa_nodes.perception.predictor_training import ClipSet, encode_clips, PredictorTraining
from vjepa_nodes.perception.preprocessing import Preprocessor
from vjepa_nodes.tools.bag import settings
from vjepa_nodes.tools.recordings import clip_windows, recording_frames, RecordingError


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog='vjepa-train-predictor', description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('recordings', type=Path, nargs='+',
                        help='rosbag2 folders and/or video files')
    parser.add_argument('--output', type=Path, help='predictor .pt to write (and its .json)')
    parser.add_argument('--topic', help='image topic of the bags (default: the only one)')
    parser.add_argument('--params-file', type=Path,
                        help='ROS parameter file; its obstacle_detector section is used')
    parser.add_argument('--param', action='append', default=[], metavar='NAME:=VALUE',
                        help='an obstacle_detector parameter, after --params-file')
    parser.add_argument('--steps', type=int, default=500, help='optimiser steps (0: evaluate)')
    parser.add_argument('--batch-size', type=int, default=8)
    parser.add_argument('--lr', type=float, default=5e-4)
    parser.add_argument('--validation', type=float, default=0.2,
                        help='fraction of each recording held out, at its end')
    parser.add_argument('--clip-stride', type=int,
                        help='frames between training clips (default: half a clip)')
    parser.add_argument('--fine-tune', action='store_true',
                        help='start from the predictor of predictor_checkpoint or checkpoint')
    parser.add_argument('--resume', action='store_true',
                        help='continue from <output>.state.pt, saved every --save-every steps '
                        'and at the end (to train on with more --steps)')
    parser.add_argument('--save-every', type=int, default=100)
    parser.add_argument('--log-every', type=int, default=10)
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args(argv)
    if args.steps > 0 and not args.output:
        parser.error('--output is needed to train (--steps > 0)')
    if args.batch_size < 1 or args.steps < 0 or not 0.0 < args.validation < 1.0:
        parser.error('--batch-size >= 1, --steps >= 0 and 0 < --validation < 1 are needed')
    return args


def encode_recordings(args: argparse.Namespace, config: DetectorConfig, encoder,
                      device: torch.device, dtype: torch.dtype) -> dict[str, ClipSet]:
    """Cut, preprocess and encode every recording's clips; return them by part."""
    parts = {'train': ClipSet(), 'validation': ClipSet()}
    preprocess = Preprocessor(config.img_size, config.resize_mode, device, dtype,
                              encoder.config.patch_size)
    stride = args.clip_stride or max(1, config.num_frames // 2)
    for recording in args.recordings:
        pending: list[torch.Tensor] = []
        part = None
        for clip_part, frames in clip_windows(
                recording_frames(recording, args.topic, args.validation), config.num_frames,
                stride, config.max_gap):
            pixels, _ = preprocess(frames)
            if pending and (clip_part != part or pixels.shape != pending[0].shape
                            or len(pending) == args.batch_size):
                parts[part].add(*encode_clips(encoder, torch.cat(pending),
                                              config.surprise_horizon))
                pending = []
            pending.append(pixels)
            part = clip_part
        if pending:
            parts[part].add(*encode_clips(encoder, torch.cat(pending), config.surprise_horizon))
    return parts


def starting_predictor(args: argparse.Namespace, config: DetectorConfig) -> VJepaPredictor:
    if args.fine_tune:
        source = config.predictor_checkpoint or config.checkpoint
        if not source:
            raise ValueError('--fine-tune needs predictor_checkpoint or checkpoint')
        predictor = load_predictor(source, config.model_size, config.model_version)[0]
        if predictor.config.levels != 1:
            raise ValueError(f'the predictor of {source} reads {predictor.config.levels} '
                             'hierarchical levels; surprise trains and runs single-level '
                             'predictors: train one from scratch (without --fine-tune)')
        return predictor
    torch.manual_seed(args.seed)
    return VJepaPredictor(trainable_predictor_config(
        get_encoder_config(config.model_size, config.model_version), config.model_size))


def train(args: argparse.Namespace, training: PredictorTraining, parts: dict[str, ClipSet],
          state_path: Path) -> float:
    """Run the optimiser steps left; return the last logged training loss."""
    rng = random.Random(args.seed + training.step_count)
    started, clips, loss_sum, losses = time.monotonic(), 0, 0.0, 0
    last = float('nan')
    while training.step_count < args.steps:
        loss_sum += training.step(*parts['train'].sample(args.batch_size, rng))
        losses, clips = losses + 1, clips + args.batch_size
        step = training.step_count
        if step % args.log_every == 0 or step == args.steps:
            last = loss_sum / losses
            rate = clips / max(time.monotonic() - started, 1e-9)
            print(f'step {step}/{args.steps}  loss {last:.4f}  {rate:.1f} clips/s', flush=True)
            loss_sum, losses = 0.0, 0
        if step % args.save_every == 0 and step < args.steps:
            torch.save(training.state_dict(), state_path)
            print(f'step {step}: validation loss {training.evaluate(parts["validation"]):.4f}'
                  f' (state saved to {state_path})', flush=True)
    return last


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        config, _ = settings(args)
        device, dtype = resolve_device_and_precision(config.device, config.precision)
        encoder = build_encoder(
            config.model_size, model_version=config.model_version,
            checkpoint=config.checkpoint, checkpoint_key=config.checkpoint_entry,
            allow_random_weights=config.allow_random_weights).to(device, dtype)
        predictor = starting_predictor(args, config)
        started = time.monotonic()
        parts = encode_recordings(args, config, encoder, device, dtype)
    except (ValueError, CheckpointError, RecordingError, OSError) as error:
        print(f'error: {error}', file=sys.stderr)
        return 2
    counts = {part: len(clips) for part, clips in parts.items()}
    print(f'encoded {counts["train"]} training and {counts["validation"]} validation clips '
          f'from {len(args.recordings)} recording(s) in {time.monotonic() - started:.1f} s',
          flush=True)
    if not counts['validation'] or (args.steps and not counts['train']):
        print('error: too few frames for training and validation clips (each part needs at '
              f'least {config.num_frames} consecutive frames)', file=sys.stderr)
        return 2
    training = PredictorTraining(predictor, config.surprise_horizon, device, lr=args.lr)
    initial = training.evaluate(parts['validation'])
    print(f'validation loss before training: {initial:.4f}', flush=True)
    if not args.steps:
        print(f'(a surprise_baseline for this predictor: {initial:.4f})')
        return 0
    state_path = args.output.with_suffix('.state.pt')
    state_path.parent.mkdir(parents=True, exist_ok=True)
    if args.resume and state_path.is_file():
        training.load_state_dict(torch.load(state_path, map_location=device, weights_only=True))
        print(f'resuming at step {training.step_count} from {state_path}', flush=True)
    last = train(args, training, parts, state_path)
    validation = training.evaluate(parts['validation'])
    print(f'validation loss after {training.step_count} steps: {validation:.4f} '
          f'(before: {initial:.4f})', flush=True)
    trained_on = TrainedOn(
        model_version=config.model_version, model_size=config.model_size,
        weights_source=encoder.weights_source, weights_digest=weights_digest(encoder),
        img_size=config.img_size, num_frames=config.num_frames,
        surprise_horizon=config.surprise_horizon, validation_loss=validation,
        details={'sources': [str(path) for path in args.recordings], **counts,
                 'steps': training.step_count, 'train_loss': last,
                 'validation_loss_before': initial, 'resize_mode': config.resize_mode,
                 'lr': args.lr, 'batch_size': args.batch_size})
    torch.save(training.state_dict(), state_path)  # to go on later with more --steps
    save_predictor(args.output, training.predictor.eval(), trained_on)
    print(f'wrote {args.output} and {args.output.with_suffix(".json")}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
