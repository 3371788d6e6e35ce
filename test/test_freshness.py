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

"""Input freshness: capture-stamp age and the frozen-camera monitor."""

from hypothesis import given, strategies as st
import numpy as np
import pytest
from vjepa_nodes.freshness import FreezeMonitor, stamp_problem


@given(age=st.floats(allow_nan=True, allow_infinity=True))
def test_stamp_problem_allows_exactly_the_window(age):
    stamp = 1000.0 - age
    problem = stamp_problem('images', stamp, 1000.0, max_age=1.0, tolerance=0.1)
    assert (problem is None) == (-0.1 <= 1000.0 - stamp <= 1.0)  # the age as rounded


def test_stamp_problem_says_which_way_and_by_how_much():
    assert 'captured 100.00 s ago (allowed 1.0 s)' in stamp_problem('images', 0.0, 100.0, 1.0, 0.1)
    assert 'stamped 10.00 s in the future' in stamp_problem('images', 110.0, 100.0, 1.0, 0.1)


def test_identical_frames_count_as_unchanged_by_their_stamps():
    rng = np.random.default_rng(0)
    still = rng.integers(0, 255, (48, 64, 3), dtype=np.uint8)
    monitor = FreezeMonitor()
    for i in range(31):
        monitor.update(still.copy(), 100.0 + i / 10)
    assert monitor.unchanged_for == pytest.approx(3.0)
    changed = still.copy()
    changed[0, 0, 0] ^= 1  # one bit of sensor noise is a live camera
    monitor.update(changed, 103.1)
    assert monitor.unchanged_for == 0.0


def test_a_reset_forgets_the_frozen_picture():
    frame = np.zeros((16, 16, 3), np.uint8)
    monitor = FreezeMonitor()
    monitor.update(frame, 1.0)
    monitor.update(frame, 5.0)
    monitor.reset()
    monitor.update(frame, 6.0)
    assert monitor.unchanged_for == 0.0
