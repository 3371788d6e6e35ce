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
Would V-JEPA 2.1's hierarchical features score motion better? Print a table, write JSON.

Each clip is encoded once with hierarchical=True; every intermediate block's normalised output
(the last one is the encoder's usual output) and their concatenation are scored separately on
the synthetic scenes of test_motion.py:
- auroc: how well the change per patch (scoring.feature_change) ranks the patches a moving
  object covers above the others (1 = perfectly, 0.5 = not at all);
- over_noise, over_light: object-patch change divided by the mean change of a static scene
  (sensor noise only) and of the clip pair across a brightness step (x1.35);
- static, moving, light: mean motion_score of the full scorer with its default settings (its
  change_scale was tuned on the last block's features).
Without --checkpoint the weights are random (seeded), which says how the features follow pixels,
not what training taught them. docs/PERFORMANCE.md quotes a run:
    .venv/bin/python scripts/hierarchical_study.py --json docs/benchmarks/...json
"""

import argparse
import json
from pathlib import Path
import statistics

import torch
import torch.nn.functional as F

from vjepa_nodes.encoder.build import build_encoder
from vjepa_nodes.encoder.vit import clip_token_grid
from vjepa_nodes.perception.config import ScoringConfig
from vjepa_nodes.perception.preprocessing import Preprocessor
from vjepa_nodes.perception.scoring import feature_change, MotionScorer
from vjepa_nodes.synthetic import MovingObject, SyntheticScene
from vjepa_nodes.tools.arguments import model_name, split_model
from vjepa_nodes.tools.tables import align

WIDTH, HEIGHT, FPS = 320, 240, 10
SCENE_FRAMES = 32
BRIGHTNESS_STEP = (16, 1.35)  # from this frame on, everything is this much brighter
MOVING = {'slow': MovingObject(160, 120, 40, vx=20), 'fast': MovingObject(160, 120, 40, vx=150),
          'two': (MovingObject(80, 60, 40, vx=150), MovingObject(240, 180, 40, vx=-150)),
          'small and slow': MovingObject(160, 120, 16, vx=10)}
COLUMNS = ('model', 'features', 'auroc', 'over_noise', 'over_light', 'static', 'moving',
           'light')


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument('--model', type=model_name, default='2.1:base')
    parser.add_argument('--checkpoint', help='trained weights (default: seeded random ones)')
    parser.add_argument('--img-size', type=int, default=256)
    parser.add_argument('--frames', type=int, default=16)
    parser.add_argument('--stride', type=int, default=4)
    parser.add_argument('--seeds', type=int, default=6, help='scene textures to average over')
    parser.add_argument('--json', type=Path)
    return parser.parse_args()


class Study:
    """Encode scenes' clips once and keep each feature variant's change maps."""

    def __init__(self, args: argparse.Namespace) -> None:
        size, version = split_model(args.model)
        self.encoder = build_encoder(size, model_version=version, checkpoint=args.checkpoint,
                                     allow_random_weights=not args.checkpoint)
        layers = self.encoder.config.hierarchical_layers
        if not layers:
            raise SystemExit(f'{args.model} has no hierarchical features (V-JEPA 2.1 has)')
        self.variants = {f'block {layer}': slice(i, i + 1) for i, layer in enumerate(layers)}
        self.variants['all four'] = slice(0, len(layers))
        self.preprocess = Preprocessor(args.img_size, 'center_crop', torch.device('cpu'),
                                       torch.float32, self.encoder.config.patch_size)
        self.frames, self.stride = args.frames, args.stride

    def clips(self, scene: SyntheticScene, brightness=lambda i: 1.0):
        """Yield each clip's per-variant features (t, h, w, D), pixel geometry, first frame."""
        frames = [scene.frame(i / FPS, brightness(i)) for i in range(SCENE_FRAMES)]
        for start in range(0, SCENE_FRAMES - self.frames + 1, self.stride):
            pixels, geometry = self.preprocess(frames[start:start + self.frames])
            grid = clip_token_grid(self.encoder.config, pixels.shape)
            with torch.inference_mode():
                blocks = self.encoder(pixels, hierarchical=True).reshape(
                    *grid, len(self.variants) - 1, -1)
            yield {name: blocks[..., part, :].flatten(-2) for name, part in
                   self.variants.items()}, geometry, start

    def object_patches(self, seed: int, objects, geometry, start: int) -> torch.Tensor:
        """Patches (h, w) that an object covers in any frame of a clip and the one before it."""
        plain = SyntheticScene(WIDTH, HEIGHT, (), seed, sensor_noise=0)
        with_objects = SyntheticScene(WIDTH, HEIGHT, objects, seed, sensor_noise=0)
        span = range(max(0, start - self.stride), start + self.frames)
        covered = torch.stack([torch.from_numpy(
            (with_objects.frame(i / FPS) != plain.frame(i / FPS)).any(-1)) for i in span])
        covered = F.interpolate(covered.any(0, keepdim=True)[None].float(), geometry.resize,
                                mode='bilinear')
        (top, left), (height, width) = geometry.offset, geometry.input_size
        covered = covered[..., top:top + height, left:left + width]
        patch = self.encoder.config.patch_size
        return F.max_pool2d(covered, patch)[0, 0] > 0


def auroc(positives: torch.Tensor, negatives: torch.Tensor) -> float:
    """P(a positive > a negative), ties counting half."""
    above = (positives[:, None] > negatives[None, :]).float().mean()
    tied = (positives[:, None] == negatives[None, :]).float().mean()
    return (above + 0.5 * tied).item()


def measure(study: Study, seed: int) -> dict[str, dict[str, float]]:
    """Return each variant's metrics on one scene texture."""
    found = {name: {'auroc': [], 'object': [], 'noise': [], 'light': [], 'static': [],
                    'moving': [], 'light_score': []} for name in study.variants}

    def pairs(scene, brightness=lambda i: 1.0):
        previous, scorers = None, {name: MotionScorer(ScoringConfig()) for name in found}
        for features, geometry, start in study.clips(scene, brightness):
            scores = {name: scorers[name].score(f.reshape(1, -1, f.shape[-1]), f.shape[:3])
                      for name, f in features.items()}
            if previous is not None:
                yield ({name: feature_change(f, previous[name]) for name, f in features.items()},
                       scores, geometry, start)
            previous = features

    for change, scores, _, _ in pairs(SyntheticScene(WIDTH, HEIGHT, (), seed)):
        for name in found:
            found[name]['noise'].append(change[name].mean().item())
            found[name]['static'].append(scores[name].motion_score)
    step, gain = BRIGHTNESS_STEP
    for change, scores, _, start in pairs(SyntheticScene(WIDTH, HEIGHT, (), seed),
                                          lambda i: gain if i >= step else 1.0):
        for name in found:
            found[name]['light_score'].append(scores[name].motion_score)
            if start - study.stride < step <= start + study.frames - 1:
                found[name]['light'].append(change[name].mean().item())
    for objects in MOVING.values():
        objects = objects if isinstance(objects, tuple) else (objects,)
        for change, scores, geometry, start in pairs(SyntheticScene(WIDTH, HEIGHT, objects,
                                                                    seed)):
            covered = study.object_patches(seed, objects, geometry, start)
            if covered.all() or not covered.any():  # nothing to rank against
                continue
            for name in found:
                found[name]['auroc'].append(auroc(change[name][covered],
                                                  change[name][~covered]))
                found[name]['object'].append(change[name][covered].mean().item())
                found[name]['moving'].append(scores[name].motion_score)
    # The brightness step's worst clip; everything else averaged over the clips.
    mean = {name: {key: (max if key == 'light_score' else statistics.mean)(values)
                   for key, values in metrics.items()} for name, metrics in found.items()}
    return {name: {'auroc': m['auroc'], 'over_noise': m['object'] / m['noise'],
                   'over_light': m['object'] / m['light'], 'static': m['static'],
                   'moving': m['moving'], 'light': m['light_score']}
            for name, m in mean.items()}


def main() -> None:
    args = parse_args()
    study = Study(args)
    per_seed = [measure(study, seed) for seed in range(args.seeds)]
    rows = [{'model': args.model, 'features': name,
             **{key: statistics.mean(seed[name][key] for seed in per_seed)
                for key in COLUMNS[2:]}} for name in study.variants]
    print(align([COLUMNS] + [[row['model'], row['features']]
                             + [f'{row[key]:.3f}' for key in COLUMNS[2:]] for row in rows]))
    if args.json:
        settings = {key: getattr(args, key) for key in ('img_size', 'frames', 'stride', 'seeds',
                                                        'checkpoint')}
        args.json.write_text(json.dumps({'settings': settings, 'rows': rows}, indent=1))


if __name__ == '__main__':
    main()
