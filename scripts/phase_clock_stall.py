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
Whether staggered cameras keep their phases through a stall that drops most of their frames.

    python3 scripts/phase_clock_stall.py [path/to/clip_buffer.py]
simulates 8 cameras (16 frames, stride 8, 30 Hz, 0.5 ms stamp jitter) on one PhaseClock, as
the first clip's compilation stalls a detector: after the first clip no clip is taken for
`stall` ticks, and for `lossy` ticks from then on each camera loses each frame with probability
`loss`. It prints, per scenario and over 20 seeds, how many cases had clips on a shared frame in
the last 300 ticks, and the mean and largest share. Pass an older clip_buffer.py (`git show
REV:vjepa_nodes/perception/clip_buffer.py > old.py`) to compare; docs/PERFORMANCE.md quotes both.
"""

import argparse
import importlib.util
import random

import numpy as np

SCENARIOS = ((30, 0.7, 0), (20, 0.9, 30), (60, 0.5, 60), (25, 0.6, 100), (10, 0.8, 200),
             (10, 0.88, 200), (10, 0.5, 600))  # (stall, loss, lossy) ticks, probability, ticks
CAMERAS, NUM_FRAMES, STRIDE, PERIOD = 8, 16, 8, 1 / 30
SETTLED = 300  # ticks at the end in which shared frames are counted
SEEDS = 20


def shared_share(module, seed: int, stall: int, loss: float, lossy: int) -> float:
    """Return the share of clips in the last SETTLED ticks whose tick another camera took too."""
    draw = random.Random(seed)
    clock = module.PhaseClock()
    cameras = [module.ClipBuffer(NUM_FRAMES, STRIDE, 1.0, phase=index * STRIDE // CAMERAS,
                                 grid=True, clock=clock) for index in range(CAMERAS)]
    starts = [draw.randint(0, 10) for _ in cameras]
    frame = np.zeros((2, 2, 3), np.uint8)
    ticks, taken, stalled_at = 900 + lossy, [], None
    for tick in range(ticks):
        stamp = 1000.0 + tick * PERIOD + draw.gauss(0.0, 0.0005)
        since = None if stalled_at is None else tick - stalled_at
        for index, camera in enumerate(cameras):
            lost = since is not None and since < stall + lossy and draw.random() < loss
            if tick >= starts[index] and not lost:
                camera.add(frame, stamp)
        if since is not None and since < stall:
            continue  # the worker is busy: nothing taken
        for camera in cameras:
            if camera.take_clip():
                taken.append(tick)
                stalled_at = tick if stalled_at is None else stalled_at
    settled = [tick for tick in taken if tick > ticks - SETTLED]
    return 1 - len(set(settled)) / len(settled)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('clip_buffer', nargs='?', default='vjepa_nodes/perception/clip_buffer.py')
    args = parser.parse_args()
    spec = importlib.util.spec_from_file_location('clip_buffer', args.clip_buffer)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    print('stall  loss  lossy  cases sharing  mean share  largest share')
    for stall, loss, lossy in SCENARIOS:
        shares = [shared_share(module, seed, stall, loss, lossy) for seed in range(SEEDS)]
        print(f'{stall:5d}  {loss:4.2f}  {lossy:5d}  {sum(s > 0 for s in shares):6d}/{SEEDS}'
              f'  {sum(shares) / SEEDS:10.2f}  {max(shares):13.2f}')


if __name__ == '__main__':
    main()
