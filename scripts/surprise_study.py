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
Does surprise tell movers from the robot's own motion better than the motion score? Table, JSON.

The corridor scene (vjepa_nodes.corridor) is rendered from a robot driving down it: forward at
0.3-1.0 m/s while turning (yaw swinging up to +-20 degrees). A predictor is trained on clips of
such drives with nothing moving but the camera (the encoder frozen, as vjepa-train-predictor
trains it). Held-out drives are then scored, half of them with an independent mover (a person,
box or ball crossing ahead). Per patch of each clip's newest `horizon` tubelets:
- motion: the motion score's activation against the previous clip (plain, and with
  ego_motion_compensation);
- surprise: the predictor's error.
Reported per patch: the AUROC of mover patches (covered >= 30 % in the newest frames) against
the patches of ego-motion-only clips, and, at the threshold that finds 90 % of the mover patches,
the false alarms: the fraction of ego-motion-only patches above it, and of those clips with any
patch above it. Per clip, as the node decides: each clip's highest region mean (left, centre,
right thirds), its AUROC for mover clips against ego-motion-only clips and the false-alarm rate
of ego-motion-only clips at the threshold that finds 90 % of the mover clips. Without
--checkpoint the encoder's weights are random (seeded). docs/PERFORMANCE.md quotes a run:
    .venv/bin/python scripts/surprise_study.py --json docs/benchmarks/dev_cpu_surprise_study.json
"""

import argparse
import json
import math
from pathlib import Path
import random
import time

import cv2
import numpy as np
import torch

from vjepa_nodes.corridor import CameraPose, CorridorScene, Prop, PROPS
from vjepa_nodes.encoder.build import build_encoder
from vjepa_nodes.encoder.predictor import trainable_predictor_config, VJepaPredictor
from vjepa_nodes.perception.config import ScoringConfig
from vjepa_nodes.perception.predictor_training import ClipSet, encode_clips, PredictorTraining
from vjepa_nodes.perception.preprocessing import Preprocessor
from vjepa_nodes.perception.scoring import MotionScorer
from vjepa_nodes.perception.surprise import prediction_error, split_indices
from vjepa_nodes.tools.arguments import model_name, split_model
from vjepa_nodes.tools.tables import align

FPS = 10.0
STILL_PROPS = tuple(prop for prop in PROPS if len(prop.path) == 1)  # the boxes by the walls
MOVERS = (('person', (52, 96, 170), (0.42, 1.72, 0.25)), ('box', (176, 134, 88), (0.6, 0.4, 0.5)),
          ('ball', (214, 52, 40), (0.34, 0.34, 0.34)))
COVERED = 0.3  # a mover patch: at least this much of it covered in the newest frames
RECALL = 0.9
COLUMNS = ('score', 'auroc', 'threshold', 'false_alarm_patches', 'false_alarm_clips',
           'region_auroc', 'region_false_alarms')


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument('--model', type=model_name, default='2:small')
    parser.add_argument('--checkpoint', help='encoder weights (default: seeded random ones)')
    parser.add_argument('--size', default='128x96', help='rendered width x height')
    parser.add_argument('--img-size', type=int, default=112)
    parser.add_argument('--frames', type=int, default=8)
    parser.add_argument('--stride', type=int, default=4, help='frames between scored clips')
    parser.add_argument('--horizon', type=int, default=2, help='target tubelets')
    parser.add_argument('--train-clips', type=int, default=384)
    parser.add_argument('--test-clips', type=int, default=64, help='half of them with a mover')
    parser.add_argument('--steps', type=int, default=2000)
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--json', type=Path)
    return parser.parse_args()


class Drive:
    """One robot drive: a corridor texture and a camera path (forward while turning)."""

    def __init__(self, rng: random.Random, width: int, height: int, mover: bool) -> None:
        self.scene_seed = rng.randrange(10**6)
        self.start = CameraPose(rng.uniform(-0.8, 0.8), rng.uniform(0.0, 4.0), 0.0)
        self.speed = rng.uniform(0.3, 1.0)
        self.swing = (rng.uniform(0.0, 20.0), rng.uniform(0.5, 1.5), rng.uniform(0, 2 * math.pi))
        self.size = (width, height)
        self.mover = self._mover(rng) if mover else None

    def pose(self, t: float) -> CameraPose:
        amplitude, rate, phase = self.swing
        yaw = amplitude * math.sin(rate * t + phase)
        return CameraPose(self.start.x, self.start.z + self.speed * t, yaw)

    def _mover(self, rng: random.Random) -> Prop:
        """Return a prop crossing ahead, in view in the clip's newest frames (t around 1 s)."""
        shape, colour, size = rng.choice(MOVERS)
        ahead = self.start.z + rng.uniform(2.0, 4.0)
        side = rng.choice((-1, 1))
        speed = rng.uniform(0.8, 1.6)
        middle = rng.uniform(-0.6, 0.6)  # where it is at t = 1 s
        return Prop(shape, colour, size, ((0.0, middle - side * speed, ahead),
                                          (2.0, middle + side * speed, ahead)))

    def frames(self, count: int, with_mover: bool = True) -> list[np.ndarray]:
        props = STILL_PROPS + ((self.mover,) if self.mover and with_mover else ())
        scene = CorridorScene(*self.size, seed=self.scene_seed, props=props)
        return [scene.frame(i / FPS, pose=self.pose(i / FPS)) for i in range(count)]


def mover_coverage(drive: Drive, first: int, count: int, grid: tuple[int, int]) -> np.ndarray:
    """Fraction of each patch (h, w) the mover covers in frames first..first+count-1."""
    frames = drive.frames(first + count)[first:]
    empty = drive.frames(first + count, with_mover=False)[first:]
    covered = np.mean([np.abs(a.astype(int) - b).max(-1) > 10 for a, b in zip(frames, empty)],
                      axis=0).astype(np.float32)
    return cv2.resize(covered, (grid[1], grid[0]), interpolation=cv2.INTER_AREA)


def auroc(positives: np.ndarray, negatives: np.ndarray) -> float:
    """P(a positive scores above a negative), ties counting half (Mann-Whitney)."""
    ranks = np.argsort(np.argsort(np.concatenate([positives, negatives]))) + 1.0
    values = np.concatenate([positives, negatives])
    for value in np.unique(values):  # average ranks over ties
        tied = values == value
        ranks[tied] = ranks[tied].mean()
    above = ranks[:len(positives)].sum() - len(positives) * (len(positives) + 1) / 2
    return float(above / (len(positives) * len(negatives)))


def main() -> None:
    args = parse_args()
    width, height = (int(side) for side in args.size.split('x'))
    size, version = split_model(args.model)
    device = torch.device(args.device)
    torch.manual_seed(args.seed)
    encoder = build_encoder(size, model_version=version, checkpoint=args.checkpoint,
                            allow_random_weights=not args.checkpoint).to(device)
    preprocess = Preprocessor(args.img_size, 'full', device, torch.float32,
                              encoder.config.patch_size)
    rng = random.Random(args.seed)
    started = time.monotonic()

    train, validation = ClipSet(), ClipSet()
    for index in range(args.train_clips):
        frames = Drive(rng, width, height, mover=False).frames(args.frames)
        part = validation if index % 8 == 7 else train
        part.add(*encode_clips(encoder, preprocess(frames)[0], args.horizon))
    predictor = VJepaPredictor(trainable_predictor_config(encoder.config, size))
    training = PredictorTraining(predictor, args.horizon, device)
    before = training.evaluate(validation)
    for _ in range(args.steps):
        training.step(*train.sample(8, rng))
    after = training.evaluate(validation)
    print(f'predictor: validation loss {before:.3f} -> {after:.3f} after {args.steps} steps '
          f'({time.monotonic() - started:.0f} s)')
    predictor = training.predictor.eval()

    # The motion score's activation (what the node acts on) and its ranking before the soft
    # threshold clamps it (many mover patches sit at exactly 0 after the common-mode removal).
    scores = {name: [] for name in ('motion', 'motion_ego_compensated', 'motion_excess',
                                    'motion_ego_compensated_excess', 'surprise')}
    labels = []  # per clip: coverage map (h, w), or None for an ego-motion-only clip
    for index in range(args.test_clips):
        drive = Drive(rng, width, height, mover=index % 2 == 1)
        frames = drive.frames(args.frames + args.stride)
        previous = preprocess(frames[:args.frames])[0]
        clip = preprocess(frames[args.stride:])[0]
        with torch.no_grad():
            grid, context, targets = encode_clips(encoder, clip, args.horizon)
            predicted = predictor(context, *split_indices(grid, args.horizon, device), grid)
            error = prediction_error(predicted, targets)[0].unflatten(
                0, (args.horizon, *grid[1:])).mean(0)
            tokens = [encoder(previous), encoder(clip)]
        scores['surprise'].append(error.cpu().numpy())
        for name, config in (('motion', ScoringConfig()),
                             ('motion_ego_compensated',
                              ScoringConfig(ego_motion_compensation=True))):
            scorer = MotionScorer(config)
            for features in tokens:
                motion = scorer.score(features, grid)
            scores[name].append(motion.activation.cpu().numpy())
            scores[f'{name}_excess'].append(motion.excess.cpu().numpy())
        newest = args.frames + args.stride - 2 * args.horizon
        labels.append(mover_coverage(drive, newest, 2 * args.horizon, grid[1:])
                      if drive.mover else None)

    rows = []
    movers = np.array([c is not None for c in labels])
    for name, maps in scores.items():
        regions = np.array([max(part.mean() for part in np.array_split(m, 3, axis=1))
                            for m in maps])
        region_threshold = float(np.quantile(regions[movers], 1.0 - RECALL))
        positives = np.concatenate([m[c >= COVERED] for m, c in zip(maps, labels)
                                    if c is not None])
        ego_only = [m for m, c in zip(maps, labels) if c is None]
        negatives = np.concatenate([m.ravel() for m in ego_only])
        threshold = float(np.quantile(positives, 1.0 - RECALL))
        rows.append({'score': name, 'auroc': auroc(positives, negatives),
                     'threshold': threshold,
                     'false_alarm_patches': float((negatives >= threshold).mean()),
                     'false_alarm_clips': float(np.mean([m.max() >= threshold
                                                         for m in ego_only])),
                     'region_auroc': auroc(regions[movers], regions[~movers]),
                     'region_false_alarms': float((regions[~movers] >= region_threshold).mean()),
                     'mover_patches': int(len(positives)),
                     'ego_motion_patches': int(len(negatives))})
    print(align([COLUMNS] + [[row['score']] + [f'{row[c]:.3f}' for c in COLUMNS[1:]]
                             for row in rows]))
    if args.json:
        settings = {key: str(value) for key, value in vars(args).items() if key != 'json'}
        args.json.write_text(json.dumps({
            'settings': settings, 'predictor_validation_loss': {'before': before,
                                                                'after': after},
            'seconds': time.monotonic() - started, 'rows': rows}, indent=1) + '\n')


if __name__ == '__main__':
    main()
