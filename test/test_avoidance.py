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

from dataclasses import fields, replace

from hypothesis import given, strategies as st
import pytest
from vjepa_nodes.avoidance import AvoidancePolicy, DriveState, Perception, PolicyConfig

# Generous acceleration limits so that only the limit tests see them act.
CONFIG = PolicyConfig(cruise_speed=0.4, turn_speed=0.6, caution_score=0.1, danger_score=0.3,
                      timeout=0.5, max_perception_age=1.0, max_linear_speed=0.5,
                      max_angular_speed=1.0,
                      max_linear_accel=10.0, max_angular_accel=20.0)


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def seen(clock, left=0.0, center=0.0, right=0.0, obstacle=False, age=0.0, silence=0.0,
         reference=True, problem=''):
    """Return a result about images captured `age` s ago that arrived `silence` s ago."""
    return Perception({'left': left, 'center': center, 'right': right}, obstacle,
                      clock.now - age, clock.now - silence, reference, problem)


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def policy(clock):
    policy = AvoidancePolicy(CONFIG, clock)
    clock.now += 1.0  # a first step long after construction: rate limits allow anything
    return policy


def test_clear_cruises(policy, clock):
    command = policy.step(seen(clock), estop=None)
    assert (command.linear, command.angular, command.state) == (0.4, 0.0, DriveState.CLEAR)


@pytest.mark.parametrize(('peak', 'fraction'), [(0.1, 1.0), (0.2, 0.5), (0.25, 0.25)])
def test_caution_slows_in_proportion(policy, clock, peak, fraction):
    command = policy.step(seen(clock, right=peak), estop=None)
    assert command.state is DriveState.CAUTION
    assert command.linear == pytest.approx(0.4 * fraction) and command.angular == 0.0


def test_obstacle_flag_off_centre_is_caution(policy, clock):
    command = policy.step(seen(clock, left=0.2, obstacle=True), estop=None)
    assert command.state is DriveState.CAUTION and command.linear == pytest.approx(0.2)


@pytest.mark.parametrize('perception', [
    lambda clock: seen(clock, reference=False),
    lambda clock: seen(clock, center=float('nan')),
    lambda clock: seen(clock, right=float('inf')),
    lambda clock: Perception({'left': 0.0, 'right': 0.0}, False, clock.now, clock.now),
    lambda clock: seen(clock, age=-0.2),  # stamped in the future: another clock
    lambda clock: seen(clock, age=float('nan')),
    lambda clock: seen(clock, silence=float('nan')),
    lambda clock: seen(clock, problem='camera frozen: the same image for 2.0 s'),
])
def test_unusable_perception_stops(policy, clock, perception):
    command = policy.step(perception(clock), estop=None)
    assert (command.linear, command.angular, command.state) == (0.0, 0.0, DriveState.STOP_STALE)


@pytest.mark.parametrize(('left', 'right', 'angular'), [(0.1, 0.5, 0.6), (0.5, 0.1, -0.6)])
@pytest.mark.parametrize(('center', 'obstacle'), [(0.3, False), (0.1, True)])
def test_danger_ahead_stops_and_turns_to_the_clearer_side(policy, clock, left, right, angular,
                                                          center, obstacle):
    command = policy.step(seen(clock, left=left, center=center, right=right, obstacle=obstacle),
                          estop=None)
    assert command.state is DriveState.AVOID
    assert command.linear == 0.0 and command.angular == angular


def test_stale_or_missing_perception_stops(policy, clock):
    assert policy.step(None, estop=None).state is DriveState.STOP_STALE
    fresh = policy.step(seen(clock, age=1.0, silence=0.5), estop=None)
    assert fresh.state is DriveState.CLEAR
    late = policy.step(seen(clock, silence=0.51), estop=None)
    assert (late.linear, late.angular, late.state) == (0.0, 0.0, DriveState.STOP_STALE)
    assert 'no detector result for 0.51 s' in late.reason
    old = policy.step(seen(clock, age=1.01), estop=None)
    assert (old.linear, old.angular, old.state) == (0.0, 0.0, DriveState.STOP_STALE)
    assert 'captured 1.01 s ago' in old.reason


@pytest.mark.parametrize(('age', 'moves'), [(-0.1, True), (-0.11, False), (-10.0, False),
                                            (100.0, False)])
def test_capture_stamps_in_the_future_or_far_past_stop(policy, clock, age, moves):
    command = policy.step(seen(clock, age=age), estop=None)
    assert (command.state is DriveState.CLEAR) == moves
    if not moves:
        assert command.linear == 0.0 and command.state is DriveState.STOP_STALE


def test_capture_age_is_judged_on_the_stamp_clock(clock):
    stamp_clock = Clock()
    stamp_clock.now = 5000.0  # e.g. simulated time: unrelated to the steady clock
    policy = AvoidancePolicy(CONFIG, clock, stamp_clock)
    clock.now += 1.0
    perception = Perception({'left': 0.0, 'center': 0.0, 'right': 0.0}, False, 4999.5,
                            clock.now)
    assert policy.step(perception, estop=None).state is DriveState.CLEAR
    stamp_clock.now += 0.6  # images now 1.1 s old, though the result just arrived
    assert policy.step(perception, estop=None).state is DriveState.STOP_STALE


def test_a_problem_reported_by_the_detector_stops_with_its_reason(policy, clock):
    command = policy.step(seen(clock, problem='camera frozen: the same image for 2.0 s'),
                          estop=None)
    assert command.state is DriveState.STOP_STALE and command.reason.startswith('camera frozen')


def test_perception_ages_on_the_policy_clock(policy, clock):
    perception = seen(clock)
    assert policy.step(perception, estop=None).state is DriveState.CLEAR
    clock.now += 0.6  # no new perception arrives
    assert policy.step(perception, estop=None).state is DriveState.STOP_STALE


def test_estop_wins_over_everything_and_stops_at_once(policy, clock):
    assert policy.step(seen(clock), estop=None).linear == 0.4
    clock.now += 0.01
    command = policy.step(seen(clock, left=0.5, center=0.5, obstacle=True), estop='e-stop engaged')
    assert (command.linear, command.angular, command.state) == (0.0, 0.0, DriveState.ESTOP)


def test_every_transition_between_states(policy, clock):
    inputs = {  # state: (perception, e-stop, expected linear, expected angular)
        DriveState.CLEAR: (lambda: seen(clock), None, 0.4, 0.0),
        DriveState.CAUTION: (lambda: seen(clock, right=0.2), None, 0.2, 0.0),
        DriveState.AVOID: (lambda: seen(clock, center=0.5, right=0.2), None, 0.0, 0.6),
        DriveState.STOP_STALE: (lambda: seen(clock, age=5.0), None, 0.0, 0.0),
        DriveState.ESTOP: (lambda: seen(clock), 'e-stop engaged', 0.0, 0.0),
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
    assert policy.step(seen(clock), estop=None).linear == pytest.approx(0.05)


def test_acceleration_is_limited_but_braking_is_not(clock):
    policy = AvoidancePolicy(PolicyConfig(cruise_speed=0.4, max_linear_accel=0.5,
                                          turn_speed=0.6, max_angular_accel=1.0,
                                          control_period=0.2), clock)
    speeds = []
    for _ in range(10):
        speeds.append(policy.step(seen(clock), estop=None).linear)
        clock.now += 0.2
    assert speeds[:5] == pytest.approx([0.0, 0.1, 0.2, 0.3, 0.4])  # 0.5 m/s^2 x 0.2 s
    assert policy.step(seen(clock), estop='e-stop engaged').linear == 0.0  # at once
    clock.now += 0.2
    turn = policy.step(seen(clock, center=0.5, left=0.0, right=0.4, obstacle=True), None)
    assert turn.angular == pytest.approx(0.2)  # 1.0 rad/s^2 x 0.2 s


def test_reversing_the_turn_stops_first(clock):
    policy = AvoidancePolicy(PolicyConfig(turn_speed=0.6, max_angular_accel=1.0,
                                          control_period=1.0), clock)
    clock.now += 1.0
    assert policy.step(seen(clock, center=0.5, right=0.4, obstacle=True), None).angular == 0.6
    clock.now += 0.1
    flipped = policy.step(seen(clock, center=0.5, left=0.4, obstacle=True), None)
    assert flipped.angular == pytest.approx(-0.1)


@given(cruise=st.floats(0, 3), turn=st.floats(0, 5), steps=st.lists(st.tuples(
    st.floats(0, 1), st.floats(0, 1), st.floats(0, 1), st.booleans(), st.floats(0, 0.3)),
    min_size=1, max_size=20))
def test_speed_and_acceleration_limits_always_hold(cruise, turn, steps):
    clock = Clock()
    config = PolicyConfig(cruise_speed=cruise, turn_speed=turn, max_linear_speed=0.5,
                          max_angular_speed=1.0, max_linear_accel=0.5, max_angular_accel=2.0)
    policy = AvoidancePolicy(config, clock)
    previous = policy.step(None, estop=None)
    for left, center, right, obstacle, dt in steps:
        clock.now += dt
        command = policy.step(seen(clock, left, center, right, obstacle), estop=None)
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
    ({'timeout': 0.0}, r'timeout=0.0 is not allowed: a finite value from 0.05 to 10.0'),
    ({'max_linear_speed': -1.0}, 'max_linear_speed=-1.0 is not allowed'),
    ({'cruise_speed': 50.0}, 'cruise_speed=50.0 is not allowed: a finite value from 0.0 to 5.0'),
    ({'timeout': '0.5'}, "timeout must be a number, got a string '0.5'"),
    ({'cruise_speed': True}, 'cruise_speed must be a number, got a boolean True'),
])
def test_bad_policy_settings_are_rejected(kwargs, message):
    with pytest.raises(ValueError, match=message):
        PolicyConfig(**kwargs)


@pytest.mark.parametrize('name', [f.name for f in fields(PolicyConfig)
                                  if isinstance(f.default, float)])
@pytest.mark.parametrize('value', [float('nan'), float('inf'), float('-inf')])
def test_every_numeric_policy_setting_refuses_non_finite_values(name, value):
    with pytest.raises(ValueError, match=f'{name}={value} is not allowed: a finite value'):
        PolicyConfig(**{name: value})


def test_integers_are_taken_for_float_settings():
    config = PolicyConfig(cruise_speed=1, timeout=2)
    assert (config.cruise_speed, config.timeout) == (1.0, 2.0)
    assert type(config.cruise_speed) is float


# Several cameras: the first steers, the others can only slow or stop the robot.

@pytest.mark.parametrize(('peak', 'fraction'), [(0.0, 1.0), (0.2, 0.5), (0.3, 0.0), (0.9, 0.0)])
def test_another_camera_slows_in_proportion_to_what_it_sees(policy, clock, peak, fraction):
    command = policy.step(seen(clock), None, {'rear': seen(clock, left=peak)}, 'front')
    assert command.linear == pytest.approx(0.4 * fraction) and command.angular == 0.0
    if fraction < 1.0:
        assert command.state is DriveState.CAUTION
        assert command.reason == f'clear; camera rear: motion {peak:.2f}, speed x{fraction:.2f}'


def test_with_watch_response_stop_any_caution_on_another_camera_stops(clock):
    policy = AvoidancePolicy(replace(CONFIG, watch_response='stop'), clock)
    clock.now += 1.0
    assert policy.step(seen(clock), None, {'rear': seen(clock, right=0.05)}).linear == 0.4
    stopped = policy.step(seen(clock), None, {'rear': seen(clock, right=0.1)})
    assert (stopped.linear, stopped.angular, stopped.state) == (0.0, 0.0, DriveState.CAUTION)
    assert policy.step(seen(clock), None, {'rear': seen(clock, obstacle=True)}).linear == 0.0


def test_avoiding_stays_avoiding_when_another_camera_slows_it(policy, clock):
    command = policy.step(seen(clock, center=0.5, right=0.4), None,
                          {'left': seen(clock, center=0.2)}, 'front')
    assert command.state is DriveState.AVOID and command.linear == 0.0
    assert command.angular == pytest.approx(0.6 * 0.5)  # turning, at the slower camera's pace


@pytest.mark.parametrize(('other', 'reason'), [
    (None, 'camera left: no perception yet'),
    ({'silence': 0.6}, 'camera left: no detector result for 0.60 s'),
    ({'age': 1.5}, 'camera left: the images behind the last result'),
    ({'problem': 'camera frozen'}, 'camera left: camera frozen'),
    ({'reference': False}, 'camera left: waiting for a reference clip')])
def test_every_camera_must_be_fresh_for_any_motion(policy, clock, other, reason):
    others = {'left': None if other is None else seen(clock, **other),
              'rear': seen(clock)}
    command = policy.step(seen(clock), None, others, 'front')
    assert (command.linear, command.angular, command.state) == (0.0, 0.0,
                                                                DriveState.STOP_STALE)
    assert command.reason.startswith(reason)
    stale_front = policy.step(None, None, {'left': seen(clock)}, 'front')
    assert stale_front.reason == 'camera front: no perception yet'
