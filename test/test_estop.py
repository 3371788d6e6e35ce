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

"""The e-stop latch: engage, release, reset, heartbeat, start-up, several publishers, unheard."""

from hypothesis import given, strategies as st
import pytest
from vjepa_nodes.estop import EStopConfig, EStopLatch

NO_HEARTBEAT = {'estop_heartbeat': 0.0}


class Clock:
    def __init__(self) -> None:
        self.now = 10.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock():
    return Clock()


def test_starts_latched_unless_told_otherwise(clock):
    latch = EStopLatch(EStopConfig(**NO_HEARTBEAT), clock)
    assert 'latched at start-up' in latch.stop_reason()
    assert latch.reset() == (True, 'e-stop reset: motion allowed')
    assert latch.stop_reason() is None
    unlatched = EStopLatch(EStopConfig(start_latched=False, **NO_HEARTBEAT), clock)
    assert unlatched.stop_reason() is None


def test_by_default_the_robot_waits_for_a_live_released_estop_and_a_reset(clock):
    latch = EStopLatch(EStopConfig(), clock)
    assert latch.config.estop_heartbeat == 0.5
    waiting = 'no e-stop message yet (one is required every 0.5 s)'
    assert latch.stop_reason() == f'latched at start-up; {waiting}'
    assert latch.reset() == (False, f'cannot reset: {waiting}')
    latch.on_message(False)
    assert latch.reset()[0] and latch.stop_reason() is None


def test_without_start_latched_the_first_message_is_awaited_but_not_latched(clock):
    latch = EStopLatch(EStopConfig(start_latched=False), clock)
    clock.now += 100.0  # however long the e-stop publisher takes to come up
    assert latch.stop_reason().startswith('no e-stop message yet')
    latch.on_message(False)
    assert latch.stop_reason() is None  # no reset needed
    clock.now += 0.6
    assert 'no e-stop heartbeat for 0.6 s' in latch.stop_reason()  # later silence latches
    latch.on_message(False)
    assert 'call reset_estop' in latch.stop_reason()


def test_release_does_not_resume_until_reset(clock):
    latch = EStopLatch(EStopConfig(start_latched=False, **NO_HEARTBEAT), clock)
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


def test_a_publisher_that_cannot_be_heard_latches_and_blocks_reset(clock):
    latch = EStopLatch(EStopConfig(start_latched=False, **NO_HEARTBEAT), clock)
    reason = 'cannot hear publisher /pad on /estop: it publishes std_msgs/msg/Empty'
    latch.set_unheard(reason)
    assert latch.stop_reason() == reason
    assert latch.reset() == (False, f'cannot reset: {reason}')
    latch.set_unheard('')  # the publisher is fixed or gone: still latched until reset
    assert latch.stop_reason() == f'{reason}: call reset_estop to drive'
    assert latch.reset()[0] and latch.stop_reason() is None


def test_a_gap_between_two_steps_still_latches(clock):
    latch = EStopLatch(EStopConfig(start_latched=False), clock)
    latch.on_message(False)
    clock.now += 0.58  # longer than the heartbeat, though no step looked in between
    latch.on_message(False)
    assert latch.stop_reason() == ('no e-stop heartbeat for 0.6 s (required every 0.5 s): call '
                                   'reset_estop to drive')


def test_an_engaged_message_holds_for_one_heartbeat_whatever_comes_next(clock):
    latch = EStopLatch(EStopConfig(start_latched=False), clock)
    assert latch.on_message(True)  # engages: the node steps at once
    assert not latch.on_message(True)  # the same message heard again: already engaged
    clock.now += 0.1
    latch.on_message(False)  # another publisher's heartbeat, or a late copy
    assert latch.engaged and latch.reset() == (False, 'cannot reset: e-stop engaged')
    clock.now += 0.45  # 0.55 s after the engaged message: the newest decides
    latch.on_message(False)
    assert not latch.engaged and latch.reset()[0] and latch.stop_reason() is None


@given(st.integers(1, 3), st.data())
def test_a_pressed_publisher_holds_the_stop_whatever_else_arrives(publishers, data):
    """
    Several e-stop publishers each repeat their state every 0.1 s (the heartbeat is 0.5 s).

    Each message may arrive a second time one step late (its copy on the other subscription),
    and the messages of a step arrive in any order: whenever one publisher is pressed, the
    e-stop is engaged and a reset is refused. Once all are released for a heartbeat period,
    and no copy of an engaged message is still on its way, a reset drives again.
    """
    clock = Clock()
    latch = EStopLatch(EStopConfig(start_latched=False), clock)
    late = []  # copies of the previous step's messages still to arrive
    for _ in range(data.draw(st.integers(1, 12))):
        pressed = data.draw(st.lists(st.booleans(), min_size=publishers, max_size=publishers))
        clock.now += 0.1
        for engaged in data.draw(st.permutations(pressed + late)):
            latch.on_message(engaged)
        late = [engaged for engaged in pressed if data.draw(st.booleans())]
        if any(pressed):
            assert latch.engaged and not latch.reset()[0]
    for _ in range(7):  # all released: the last late copy arrives now, held for 0.5 s
        clock.now += 0.1
        for engaged in [False] * publishers + late:
            latch.on_message(engaged)
        late = []
    assert latch.reset()[0] and latch.stop_reason() is None


@pytest.mark.parametrize('value', [float('nan'), float('inf'), -1.0, 11.0])
def test_bad_heartbeat_is_refused(value):
    with pytest.raises(ValueError, match='estop_heartbeat'):
        EStopConfig(estop_heartbeat=value)
