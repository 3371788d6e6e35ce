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

"""Synthetic scenes are deterministic, stay inside the image and move what they say."""

import subprocess
import sys

import numpy as np
import pytest
from vjepa_nodes.camera_sources import demo_scene
from vjepa_nodes.corridor import CorridorScene, HORIZON, PERIOD
from vjepa_nodes.synthetic import MovingObject, SyntheticScene


def test_same_seed_same_frames_other_seed_other_texture():
    objects = (MovingObject(50, 40, 20, vx=30),)
    first, again = SyntheticScene(96, 80, objects, seed=3), SyntheticScene(96, 80, objects, seed=3)
    assert np.array_equal(first.frame(0.7), again.frame(0.7))
    assert not np.array_equal(first.frame(0.7), SyntheticScene(96, 80, objects, seed=4).frame(0.7))


def test_objects_move_inside_their_band_and_leave_the_rest_alone():
    scene = SyntheticScene(96, 80, (MovingObject(16, 40, 20, vx=200, band=(0.0, 1 / 3)),),
                           seed=1, sensor_noise=0.0)
    frames = np.stack([scene.frame(t / 10) for t in range(20)]).astype(int)
    changed = np.abs(np.diff(frames, axis=0)).sum(axis=(0, 1, 3)) > 0
    assert changed[:32].any() and not changed[32:].any()


def test_objects_may_grow_past_the_border_and_times_may_be_negative():
    scene = SyntheticScene(64, 48, (MovingObject(0, 0, 30, growth=100),), seed=2)
    for t in (-1.0, 0.0, 2.0):
        frame = scene.frame(t, brightness=1.5)
        assert frame.shape == (48, 64, 3) and frame.dtype == np.uint8


# The demo scene: a corridor with people and props (vjepa_nodes.corridor).
WIDTH, HEIGHT = 96, 72


@pytest.fixture(scope='module')
def corridor():
    return CorridorScene(WIDTH, HEIGHT, seed=0, sensor_noise=0)


def moved(scene, t, dt=0.1):
    """Pixels that change between t and t + dt by more than sensor noise could."""
    before, after = scene.frame(t).astype(int), scene.frame(t + dt).astype(int)
    return np.abs(after - before).max(axis=2) > 12


def thirds(mask):
    """Count the pixels set in the left, centre and right thirds of the image."""
    return [int(part.sum()) for part in np.array_split(mask, 3, axis=1)]


def test_corridor_same_seed_same_frames_other_seed_other_look():
    first, again = CorridorScene(WIDTH, HEIGHT, seed=3), CorridorScene(WIDTH, HEIGHT, seed=3)
    for t in (0.0, 3.3, 9.9, 100.25):
        assert np.array_equal(first.frame(t), again.frame(t))
    assert not np.array_equal(first.frame(0.7), CorridorScene(WIDTH, HEIGHT, seed=4).frame(0.7))


@pytest.mark.parametrize('width, height', [(16, 16), (17, 31), (96, 72), (640, 120), (48, 300),
                                           (8192, 16)])
def test_corridor_any_size_and_time(width, height):
    scene = demo_scene(width, height, seed=1)
    assert (scene.width, scene.height) == (width, height)
    for t, brightness in ((-1.0, 1.0), (3.5, 1.5), (10.9, 0.5), (2 * PERIOD + 20.0, 1.0)):
        frame = scene.frame(t, brightness)
        assert frame.shape == (height, width, 3) and frame.dtype == np.uint8
        assert 20 < frame.mean() < 235  # a lit scene, neither blank nor burnt out


def test_corridor_repeats_every_period(corridor):
    for t in (0.5, 3.0, 10.5, 20.0):
        assert np.array_equal(corridor.frame(t), corridor.frame(t + PERIOD))


def test_still_phases_change_only_by_sensor_noise(corridor):
    noisy = CorridorScene(WIDTH, HEIGHT, seed=0, sensor_noise=4)
    for start in (0.0, 5.2, 11.8, 16.2, 22.2):  # inside the still phases of the timeline
        frames = [corridor.frame(start + i / 8) for i in range(12)]
        assert all(np.array_equal(frames[0], frame) for frame in frames)
        steps = np.abs(np.diff([noisy.frame(start + i / 8).astype(int) for i in range(12)],
                               axis=0))
        assert steps.max() <= 2 * 4 and 0.5 < steps.mean() < 4  # grain, never a moving edge


def test_person_crosses_left_then_centre_then_right(corridor):
    counts = [thirds(moved(corridor, t)) for t in np.arange(2.0, 5.0, 0.1)]
    busiest = [int(np.argmax(count)) for count in counts if sum(count) > 20]
    order = [third for i, third in enumerate(busiest) if i == 0 or busiest[i - 1] != third]
    assert order == [0, 1, 2]


def test_box_approaching_in_the_centre_grows_and_comes_down(corridor):
    empty = corridor.frame(0.0).astype(int)
    areas, bottoms = [], []
    for t in (8.0, 9.0, 10.0, 10.6, 10.95):
        rows, cols = np.nonzero(np.abs(corridor.frame(t).astype(int) - empty).max(axis=2) > 12)
        assert WIDTH / 3 < cols.mean() < 2 * WIDTH / 3  # in the centre third
        assert rows.min() >= HORIZON * HEIGHT - 1  # lower than the camera: under the horizon
        areas.append(len(rows))
        bottoms.append(rows.max())
    assert areas == sorted(set(areas)) and bottoms == sorted(set(bottoms))  # growing, coming down
    assert bottoms[-1] == HEIGHT - 1 and areas[-1] > 0.25 * WIDTH * HEIGHT  # close: fills a lot


@pytest.mark.parametrize('start, stop, third', [(13.5, 16.0, 2), (18.0, 22.0, 0)])
def test_ball_and_second_person_stay_in_their_third(corridor, start, stop, third):
    counts = thirds(sum(moved(corridor, t) for t in np.arange(start, stop, 0.1)) > 0)
    assert counts[third] > 0.9 * sum(counts) and counts[third] > 50


def test_importing_the_scenes_loads_neither_torch_nor_timm():
    code = ('import sys, vjepa_nodes.camera_sources, vjepa_nodes.corridor, vjepa_nodes.synthetic; '
            "print(sorted({name.split('.')[0] for name in sys.modules} & {'torch', 'timm'}))")
    result = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                            check=True)
    assert result.stdout.strip() == '[]'
