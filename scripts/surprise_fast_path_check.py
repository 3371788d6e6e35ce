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
Surprise through a fast path equals surprise without one (a CUDA check; prints the differences).

Two detectors with the same random weights, fp32, one with `--fast-path` and one plain, take
the same demo camera frames; their surprise maps and scores are compared clip by clip.
    python scripts/surprise_fast_path_check.py --model-size large --device cuda
"""

import argparse
import warnings

import numpy as np

from vjepa_nodes.camera_sources import moving_demo_frames
from vjepa_nodes.perception.config import DetectorConfig, ScoringConfig
from vjepa_nodes.perception.detector import ObstacleDetector


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument('--model-size', default='large')
    parser.add_argument('--device', default='cuda')
    parser.add_argument('--fast-path', default='compile+cuda_graph')
    parser.add_argument('--clips', type=int, default=4)
    args = parser.parse_args()
    warnings.simplefilter('ignore')
    detectors = [ObstacleDetector(config=DetectorConfig(
        model_size=args.model_size, device=args.device, precision='fp32', fast_path=fast_path,
        allow_random_weights=True, surprise=True, scoring=ScoringConfig(surprise_baseline=0.5)))
        for fast_path in ('none', args.fast_path)]
    frames = moving_demo_frames(640, 480, 30.0, 16 + 8 * args.clips)
    worst = 0.0
    for index, frame in enumerate(frames):
        for detector in detectors:
            detector.add_frame(frame, index / 30)
        results = [detector.detect() for detector in detectors]
        if results[0] is None:
            continue
        plain, fast = results
        difference = float(np.abs(plain.surprise_map - fast.surprise_map).max())
        worst = max(worst, difference)
        print(f'clip ending at frame {index}: surprise {plain.surprise_score:.5f} (plain) '
              f'{fast.surprise_score:.5f} ({args.fast_path}); largest map difference '
              f'{difference:.2e}')
    print(f'largest difference of any surprise map: {worst:.2e}')


if __name__ == '__main__':
    main()
