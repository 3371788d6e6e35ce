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

"""The e-stop latch: engage, release, reset, heartbeat, start-up, sources, unheard publishers."""

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


def test_a_duplicate_on_another_subscription_reports_a_new_engagement_once(clock):
    latch = EStopLatch(EStopConfig(start_latched=False, **NO_HEARTBEAT), clock)
    assert latch.on_message(True, 'reliable')
    assert not latch.on_message(True, 'best_effort')  # the same message, heard twice


@given(st.lists(st.booleans(), min_size=1, max_size=12), st.data())
def test_messages_heard_twice_in_any_order_never_release_an_engaged_estop(messages, data):
    """
    One publisher's stream reaches the node on two subscriptions.

    The reliable one delivers every message in order, the best-effort one a subsequence in
    order (it may drop some), and the executor interleaves the two anyhow. Whatever the
    interleaving, the e-stop holds while the publisher's newest message says engaged, and any
    engaged message latches.
    """
    latch = EStopLatch(EStopConfig(start_latched=False, **NO_HEARTBEAT), Clock())
    kept = data.draw(st.lists(st.booleans(), min_size=len(messages), max_size=len(messages)))
    queues = {'reliable': list(messages),
              'best_effort': [m for m, keep in zip(messages, kept) if keep]}
    while any(queues.values()):
        source = data.draw(st.sampled_from([name for name, queue in queues.items() if queue]))
        latch.on_message(queues[source].pop(0), source)
    if messages[-1]:
        assert latch.engaged and latch.stop_reason() == 'e-stop engaged'
    assert (latch.stop_reason() is not None) == any(messages)


@pytest.mark.parametrize('value', [float('nan'), float('inf'), -1.0, 11.0])
def test_bad_heartbeat_is_refused(value):
    with pytest.raises(ValueError, match='estop_heartbeat'):
        EStopConfig(estop_heartbeat=value)
