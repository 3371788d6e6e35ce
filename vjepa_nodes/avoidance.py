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
Collision-avoidance policy: perception in, a velocity command and a named state out.

Pure: the caller injects the clocks, so tests and simulated time drive it exactly. Two clocks:
`clock` (steady: rate limits, arrival of results) and `stamp_clock` (the clock image stamps are
on: ROS time, which is simulated time under use_sim_time). States:
- ESTOP: the e-stop is engaged or latched (see vjepa_nodes.estop) -> zero.
- STOP_STALE: no usable perception -> zero. That is none yet; the last result arrived more than
  `timeout` ago; the images behind it were captured more than `max_perception_age` ago or are
  stamped more than `stamp_tolerance` in the future; a problem the detector reported (frozen
  camera, failed inference); no reference clip (the first clip after a camera restart); or
  scores that are missing or not finite.
- AVOID: danger ahead -> no forward motion, turn toward the side whose region scores lower.
  Danger ahead is the centre region at or above `danger_score`, or the obstacle flag with the
  centre at or above `caution_score`.
- CAUTION: any region at or above `caution_score`, or the obstacle flag -> forward speed reduced
  linearly from cruise at `caution_score` to zero at `danger_score` of the highest region.
- CLEAR: otherwise -> cruise speed.
With several cameras the first one steers as above; every other camera (`others` in `step`) can
only slow or stop the robot: its perception must be usable too (else STOP_STALE), and motion it
sees scales both speeds (`watch_response` slow: by the CAUTION fraction of its highest region,
reaching zero at `danger_score`; stop: to zero from `caution_score` or its obstacle flag on).
Speeds are clamped to their limits; speeding up is limited by the acceleration limits (over at
most one `control_period` per step, so a pause between steps never allows a jump), while slowing
down and stopping take effect at once, since a late stop is the hazard.
"""

from dataclasses import dataclass
from enum import Enum
import math
from types import MappingProxyType
from typing import Callable, Mapping

from vjepa_nodes.freshness import stamp_problem
from vjepa_nodes.perception.config import REGIONS
from vjepa_nodes.settings import check_settings, setting


WATCH_RESPONSES = ('slow', 'stop')


class DriveState(Enum):
    """Why the robot moves the way it does, for humans and logs."""

    CLEAR = 'CLEAR'
    CAUTION = 'CAUTION'
    AVOID = 'AVOID'
    STOP_STALE = 'STOP_STALE'
    ESTOP = 'ESTOP'


def _speed(default: float, description: str, high: float) -> float:
    return setting(default, description, low=0.0, high=high, runtime=True)


@dataclass(frozen=True)
class PolicyConfig:
    """Speeds in m/s and rad/s, accelerations per second, times in seconds, scores in 0..1."""

    cruise_speed: float = _speed(0.3, 'forward speed when clear, m/s', 5.0)
    turn_speed: float = _speed(0.5, 'turn rate when avoiding, rad/s', 5.0)
    caution_score: float = _speed(0.05, 'region score at which to start slowing down', 1.0)
    danger_score: float = _speed(0.25, 'centre score that means danger ahead', 1.0)
    # A result comes every stride / fps seconds (8 / 15 Hz = 0.53 s by default) after an
    # inference latency: both limits must allow for that, plus a margin.
    timeout: float = setting(1.0, 'longest wait for the next detector result, s', low=0.05,
                             high=10.0, runtime=True)
    max_perception_age: float = setting(
        1.5, 'oldest capture time of the images behind a decision, s', low=0.05, high=30.0,
        runtime=True)
    stamp_tolerance: float = setting(
        0.1, 'how far image stamps may be ahead of this clock, s', low=0.0, high=1.0,
        runtime=True)
    max_linear_speed: float = _speed(0.5, 'limit on |linear|, m/s', 5.0)
    max_angular_speed: float = _speed(1.0, 'limit on |angular|, rad/s', 5.0)
    max_linear_accel: float = _speed(0.5, 'limit on speeding up, m/s^2', 10.0)
    max_angular_accel: float = _speed(2.0, 'limit on turning up, rad/s^2', 20.0)
    control_period: float = setting(0.1, 'longest step the acceleration limits allow for, s',
                                    low=0.001, high=1.0, runtime=True)
    watch_response: str = setting(
        'slow', 'what motion seen by a camera other than the first (which steers) does: slow '
        '(speed scaled down to zero at danger_score) or stop (from caution_score)',
        choices=WATCH_RESPONSES, runtime=True)

    def __post_init__(self) -> None:
        check_settings(self)
        if not self.caution_score < self.danger_score:
            raise ValueError('scores must satisfy caution_score < danger_score, got '
                             f'caution={self.caution_score}, danger={self.danger_score}')


@dataclass(frozen=True)
class Perception:
    """What the detector last said about one clip."""

    region_scores: Mapping[str, float]  # 'left', 'center', 'right'
    obstacle: bool
    captured: float  # stamp of the clip's newest image, on the stamp clock
    received: float  # arrival, on the policy's (steady) clock
    has_reference: bool = True
    problem: str = ''  # why the detector says the result is unusable ('' = usable)


@dataclass(frozen=True)
class VelocityCommand:
    linear: float  # forward, m/s
    angular: float  # counter-clockwise (left) positive, rad/s (REP 103)
    state: DriveState
    reason: str

    @property
    def summary(self) -> str:
        """'STATE: reason', as avoidance_state carries it."""
        return f'{self.state.value}: {self.reason}'


class AvoidancePolicy:
    """Decide a velocity command at each `step`, with rate limits between steps."""

    def __init__(self, config: PolicyConfig, clock: Callable[[], float],
                 stamp_clock: Callable[[], float] | None = None) -> None:
        self.config = config
        self._clock = clock
        self._stamp_clock = stamp_clock or clock
        self._last = VelocityCommand(0.0, 0.0, DriveState.STOP_STALE, 'not started')
        self._last_time = clock()  # the robot stands still from here on

    def step(self, perception: Perception | None, estop: str | None,
             others: Mapping[str, Perception | None] = MappingProxyType({}),
             steering: str = '') -> VelocityCommand:
        """
        Return the command for now, given the latest perception and why the e-stop holds.

        `perception` is the steering camera's (named `steering` in reasons, if named);
        `others` the latest of every other camera, by name (None: nothing yet).
        """
        now = self._clock()
        target = self._target(perception, estop, now, others, steering)
        dt = min(max(0.0, now - self._last_time), self.config.control_period)
        cfg = self.config
        command = VelocityCommand(
            _limited(self._last.linear, target.linear, cfg.max_linear_speed,
                     cfg.max_linear_accel * dt),
            _limited(self._last.angular, target.angular, cfg.max_angular_speed,
                     cfg.max_angular_accel * dt),
            target.state, target.reason)
        self._last, self._last_time = command, now
        return command

    def _target(self, perception: Perception | None, estop: str | None, now: float,
                others: Mapping[str, Perception | None], steering: str) -> VelocityCommand:
        if estop:
            return VelocityCommand(0.0, 0.0, DriveState.ESTOP, estop)
        for name, seen in ((steering, perception), *others.items()):
            problem = self._unusable(seen, now)
            if problem:
                return VelocityCommand(0.0, 0.0, DriveState.STOP_STALE,
                                       f'camera {name}: {problem}' if name else problem)
        target = self._steer(perception)
        factor, why = min(((self._watch_factor(seen), name) for name, seen in others.items()),
                          default=(1.0, ''))
        if factor == 1.0:
            return target
        state = DriveState.AVOID if target.state is DriveState.AVOID else DriveState.CAUTION
        return VelocityCommand(target.linear * factor, target.angular * factor, state,
                               f'{target.reason}; camera {why}: motion '
                               f'{max(others[why].region_scores.values()):.2f}, speed '
                               f'x{factor:.2f}')

    def _watch_factor(self, seen: Perception) -> float:
        """How much motion seen by a non-steering camera leaves of the speed (0..1)."""
        cfg = self.config
        peak = max(seen.region_scores[region] for region in REGIONS)
        if peak < cfg.caution_score and not seen.obstacle:
            return 1.0
        return 0.0 if cfg.watch_response == 'stop' else self._caution_fraction(peak)

    def _caution_fraction(self, peak: float) -> float:
        """Speed left at a highest region score `peak`: 1 at caution_score, 0 at danger_score."""
        cfg = self.config
        return 1.0 - min(1.0, max(0.0, peak - cfg.caution_score)
                         / (cfg.danger_score - cfg.caution_score))

    def _steer(self, perception: Perception) -> VelocityCommand:
        """Return the command the steering camera's usable perception asks for."""
        cfg = self.config
        scores = perception.region_scores
        ahead, peak = scores['center'], max(scores[region] for region in REGIONS)
        if ahead >= cfg.danger_score or (perception.obstacle and ahead >= cfg.caution_score):
            left_is_clearer = scores['left'] <= scores['right']
            return VelocityCommand(
                0.0, cfg.turn_speed if left_is_clearer else -cfg.turn_speed, DriveState.AVOID,
                f'danger ahead (center {ahead:.2f}); turning '
                f'{"left" if left_is_clearer else "right"}')
        if peak >= cfg.caution_score or perception.obstacle:
            fraction = self._caution_fraction(peak)
            return VelocityCommand(cfg.cruise_speed * fraction, 0.0, DriveState.CAUTION,
                                   f'motion {peak:.2f}; speed x{fraction:.2f}')
        return VelocityCommand(cfg.cruise_speed, 0.0, DriveState.CLEAR, 'clear')

    def _unusable(self, perception: Perception | None, now: float) -> str | None:
        """Say why `perception` cannot be acted on, or return None if it can."""
        cfg = self.config
        if perception is None:
            return 'no perception yet'
        silence = now - perception.received
        if not silence <= cfg.timeout:  # also catches NaN
            return f'no detector result for {silence:.2f} s (timeout {cfg.timeout} s)'
        problem = perception.problem or stamp_problem(
            'the images behind the last result', perception.captured, self._stamp_clock(),
            cfg.max_perception_age, cfg.stamp_tolerance)
        if problem:
            return problem
        if not perception.has_reference:
            return 'waiting for a reference clip'
        scores = [perception.region_scores.get(region) for region in REGIONS]
        if not all(score is not None and math.isfinite(score) for score in scores):
            return f'unusable region scores {dict(perception.region_scores)}'
        return None


def _limited(current: float, target: float, max_speed: float, max_step: float) -> float:
    """
    Move from `current` toward `target`, clamped to +-max_speed.

    Slowing down happens at once, speeding up by at most `max_step`; a reversal stops at once
    and then speeds up.
    """
    target = max(-max_speed, min(max_speed, target))
    if target * current < 0:
        current = 0.0
    if abs(target) <= abs(current):
        return target
    return current + max(-max_step, min(max_step, target - current))
