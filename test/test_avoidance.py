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

"""Avoidance policy: every state and transition, the timeout, the e-stop and the limits."""

from hypothesis import given, strategies as st
import pytest
from vjepa_nodes.avoidance import AvoidancePolicy, DriveState, Perception, PolicyConfig

# Generous acceleration limits so that only the limit tests see them act.
CONFIG = PolicyConfig(cruise_speed=0.4, turn_speed=0.6, caution_score=0.1, danger_score=0.3,
                      timeout=0.5, max_linear_speed=0.5, max_angular_speed=1.0,
                      max_linear_accel=100.0, max_angular_accel=100.0)


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def seen(clock, left=0.0, center=0.0, right=0.0, obstacle=False, age=0.0, reference=True):
    return Perception({'left': left, 'center': center, 'right': right}, obstacle,
                      clock.now - age, reference)


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def policy(clock):
    policy = AvoidancePolicy(CONFIG, clock)
    clock.now += 1.0  # a first step long after construction: rate limits allow anything
    return policy


def test_clear_cruises(policy, clock):
    command = policy.step(seen(clock), estop=False)
    assert (command.linear, command.angular, command.state) == (0.4, 0.0, DriveState.CLEAR)


@pytest.mark.parametrize(('peak', 'fraction'), [(0.1, 1.0), (0.2, 0.5), (0.25, 0.25)])
def test_caution_slows_in_proportion(policy, clock, peak, fraction):
    command = policy.step(seen(clock, right=peak), estop=False)
    assert command.state is DriveState.CAUTION
    assert command.linear == pytest.approx(0.4 * fraction) and command.angular == 0.0


def test_obstacle_flag_off_centre_is_caution(policy, clock):
    command = policy.step(seen(clock, left=0.2, obstacle=True), estop=False)
    assert command.state is DriveState.CAUTION and command.linear == pytest.approx(0.2)


@pytest.mark.parametrize('perception', [
    lambda clock: seen(clock, reference=False),
    lambda clock: seen(clock, center=float('nan')),
    lambda clock: seen(clock, right=float('inf')),
    lambda clock: Perception({'left': 0.0, 'right': 0.0}, False, clock.now),
    lambda clock: seen(clock, age=-0.2),  # stamped in the future: another clock
    lambda clock: Perception({'left': 0.0, 'center': 0.0, 'right': 0.0}, False, float('nan')),
])
def test_unusable_perception_stops(policy, clock, perception):
    command = policy.step(perception(clock), estop=False)
    assert (command.linear, command.angular, command.state) == (0.0, 0.0, DriveState.STOP_STALE)


@pytest.mark.parametrize(('left', 'right', 'angular'), [(0.1, 0.5, 0.6), (0.5, 0.1, -0.6)])
@pytest.mark.parametrize(('center', 'obstacle'), [(0.3, False), (0.1, True)])
def test_danger_ahead_stops_and_turns_to_the_clearer_side(policy, clock, left, right, angular,
                                                          center, obstacle):
    command = policy.step(seen(clock, left=left, center=center, right=right, obstacle=obstacle),
                          estop=False)
    assert command.state is DriveState.AVOID
    assert command.linear == 0.0 and command.angular == angular


def test_stale_or_missing_perception_stops(policy, clock):
    assert policy.step(None, estop=False).state is DriveState.STOP_STALE
    fresh = policy.step(seen(clock, age=0.5), estop=False)
    assert fresh.state is DriveState.CLEAR
    stale = policy.step(seen(clock, age=0.51), estop=False)
    assert (stale.linear, stale.angular, stale.state) == (0.0, 0.0, DriveState.STOP_STALE)
    assert '0.51 s old' in stale.reason


def test_perception_ages_on_the_policy_clock(policy, clock):
    perception = seen(clock)
    assert policy.step(perception, estop=False).state is DriveState.CLEAR
    clock.now += 0.6  # no new perception arrives
    assert policy.step(perception, estop=False).state is DriveState.STOP_STALE


def test_estop_wins_over_everything_and_stops_at_once(policy, clock):
    assert policy.step(seen(clock), estop=False).linear == 0.4
    clock.now += 0.01
    command = policy.step(seen(clock, left=0.5, center=0.5, obstacle=True), estop=True)
    assert (command.linear, command.angular, command.state) == (0.0, 0.0, DriveState.ESTOP)


def test_every_transition_between_states(policy, clock):
    inputs = {  # state: (perception, e-stop, expected linear, expected angular)
        DriveState.CLEAR: (lambda: seen(clock), False, 0.4, 0.0),
        DriveState.CAUTION: (lambda: seen(clock, right=0.2), False, 0.2, 0.0),
        DriveState.AVOID: (lambda: seen(clock, center=0.5, right=0.2), False, 0.0, 0.6),
        DriveState.STOP_STALE: (lambda: seen(clock, age=5.0), False, 0.0, 0.0),
        DriveState.ESTOP: (lambda: seen(clock), True, 0.0, 0.0),
    }
    for source, (make_source, source_estop, *_) in inputs.items():
        for target, (make_target, target_estop, linear, angular) in inputs.items():
            clock.now += 0.1
            assert policy.step(make_source(), source_estop).state is source
            clock.now += 0.1
            command = policy.step(make_target(), target_estop)
            assert (command.state, command.linear, command.angular) == pytest.approx(
                (target, linear, angular)), (source, target)


def test_a_pause_between_steps_allows_no_jump(clock):
    policy = AvoidancePolicy(PolicyConfig(cruise_speed=0.4, max_linear_accel=0.5,
                                          control_period=0.1), clock)
    clock.now += 30.0  # e.g. the first step long after start-up, or sim time jumping
    assert policy.step(seen(clock), estop=False).linear == pytest.approx(0.05)


def test_acceleration_is_limited_but_braking_is_not(clock):
    policy = AvoidancePolicy(PolicyConfig(cruise_speed=0.4, max_linear_accel=0.5,
                                          turn_speed=0.6, max_angular_accel=1.0,
                                          control_period=0.2), clock)
    speeds = []
    for _ in range(10):
        speeds.append(policy.step(seen(clock), estop=False).linear)
        clock.now += 0.2
    assert speeds[:5] == pytest.approx([0.0, 0.1, 0.2, 0.3, 0.4])  # 0.5 m/s^2 x 0.2 s
    assert policy.step(seen(clock), estop=True).linear == 0.0  # at once
    clock.now += 0.2
    turn = policy.step(seen(clock, center=0.5, left=0.0, right=0.4, obstacle=True), False)
    assert turn.angular == pytest.approx(0.2)  # 1.0 rad/s^2 x 0.2 s


def test_reversing_the_turn_stops_first(clock):
    policy = AvoidancePolicy(PolicyConfig(turn_speed=0.6, max_angular_accel=1.0,
                                          control_period=1.0), clock)
    clock.now += 1.0
    assert policy.step(seen(clock, center=0.5, right=0.4, obstacle=True), False).angular == 0.6
    clock.now += 0.1
    flipped = policy.step(seen(clock, center=0.5, left=0.4, obstacle=True), False)
    assert flipped.angular == pytest.approx(-0.1)


@given(cruise=st.floats(0, 3), turn=st.floats(0, 5), steps=st.lists(st.tuples(
    st.floats(0, 1), st.floats(0, 1), st.floats(0, 1), st.booleans(), st.floats(0, 0.3)),
    min_size=1, max_size=20))
def test_speed_and_acceleration_limits_always_hold(cruise, turn, steps):
    clock = Clock()
    config = PolicyConfig(cruise_speed=cruise, turn_speed=turn, max_linear_speed=0.5,
                          max_angular_speed=1.0, max_linear_accel=0.5, max_angular_accel=2.0)
    policy = AvoidancePolicy(config, clock)
    previous = policy.step(None, estop=False)
    for left, center, right, obstacle, dt in steps:
        clock.now += dt
        command = policy.step(seen(clock, left, center, right, obstacle), estop=False)
        assert 0.0 <= command.linear <= 0.5 and abs(command.angular) <= 1.0
        step = min(dt, config.control_period)
        if abs(command.linear) > abs(previous.linear):
            assert command.linear - previous.linear <= 0.5 * step + 1e-9
        if abs(command.angular) > abs(previous.angular):
            assert abs(command.angular) <= 2.0 * step + 1e-9 or \
                abs(command.angular - previous.angular) <= 2.0 * step + 1e-9
        previous = command


@pytest.mark.parametrize(('kwargs', 'message'), [
    ({'caution_score': 0.5, 'danger_score': 0.4}, 'caution_score < danger_score'),
    ({'timeout': 0.0}, 'timeout must be > 0'),
    ({'max_linear_speed': -1.0}, 'max_linear_speed must be >= 0'),
])
def test_bad_policy_settings_are_rejected(kwargs, message):
    with pytest.raises(ValueError, match=message):
        PolicyConfig(**kwargs)
