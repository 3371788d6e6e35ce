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

import numpy as np
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
