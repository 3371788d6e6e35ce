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

"""The e-stop latch: engage, release, reset, heartbeat and start-up latching."""

import pytest
from vjepa_nodes.estop import EStopConfig, EStopLatch


class Clock:
    def __init__(self) -> None:
        self.now = 10.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock():
    return Clock()


def test_starts_latched_unless_told_otherwise(clock):
    latch = EStopLatch(EStopConfig(), clock)
    assert 'latched at start-up' in latch.stop_reason()
    assert latch.reset() == (True, 'e-stop reset: motion allowed')
    assert latch.stop_reason() is None
    assert EStopLatch(EStopConfig(start_latched=False), clock).stop_reason() is None


def test_release_does_not_resume_until_reset(clock):
    latch = EStopLatch(EStopConfig(start_latched=False), clock)
    latch.on_message(True)
    assert latch.stop_reason() == 'e-stop engaged'
    ok, why = latch.reset()
    assert not ok and why == 'cannot reset: e-stop engaged'
    latch.on_message(False)
    assert 'reset_estop' in latch.stop_reason()  # released, still latched
    clock.now += 100.0
    assert latch.stop_reason() is not None  # however long it waits
    assert latch.reset()[0] and latch.stop_reason() is None


def test_heartbeat_loss_latches_and_blocks_reset(clock):
    latch = EStopLatch(EStopConfig(estop_heartbeat=0.5, start_latched=False), clock)
    latch.on_message(False)
    clock.now += 0.4
    assert latch.stop_reason() is None
    clock.now += 0.2  # 0.6 s without a message
    assert 'no e-stop heartbeat for 0.6 s' in latch.stop_reason()
    assert not latch.reset()[0]
    latch.on_message(False)  # the publisher is back: still latched until reset
    assert latch.stop_reason() is not None
    assert latch.reset()[0] and latch.stop_reason() is None


def test_heartbeat_is_due_one_period_after_start(clock):
    latch = EStopLatch(EStopConfig(estop_heartbeat=1.0, start_latched=False), clock)
    assert latch.stop_reason() is None
    clock.now += 1.5
    assert 'heartbeat' in latch.stop_reason()


@pytest.mark.parametrize('value', [float('nan'), float('inf'), -1.0, 11.0])
def test_bad_heartbeat_is_refused(value):
    with pytest.raises(ValueError, match='estop_heartbeat'):
        EStopConfig(estop_heartbeat=value)
