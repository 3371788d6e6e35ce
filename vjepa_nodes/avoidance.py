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

Pure: the caller injects the clock, so tests and simulated time drive it exactly. States:
- ESTOP: the e-stop is engaged -> zero.
- STOP_STALE: no perception yet, or older than `timeout` -> zero.
- AVOID: obstacle flagged and the centre region at or above `danger_score` -> no forward motion,
  turn toward the side whose region scores lower.
- CAUTION: any region at or above `caution_score`, or an obstacle flagged off-centre, or scores
  without a reference clip yet -> forward speed reduced in proportion to the highest region score.
- CLEAR: otherwise -> cruise speed.
Speeds are clamped to their limits; speeding up is limited by the acceleration limits, while
slowing down and stopping take effect at once, since a late stop is the hazard.
"""

from dataclasses import dataclass
from enum import Enum
from typing import Callable, Mapping

# Speed cap while the evidence is weak: an obstacle flagged off-centre, or no reference clip yet.
UNCERTAIN_SPEED_FRACTION = 0.5


class DriveState(Enum):
    """Why the robot moves the way it does, for humans and logs."""

    CLEAR = 'CLEAR'
    CAUTION = 'CAUTION'
    AVOID = 'AVOID'
    STOP_STALE = 'STOP_STALE'
    ESTOP = 'ESTOP'


@dataclass(frozen=True)
class PolicyConfig:
    """Speeds in m/s and rad/s, accelerations per second, times in seconds, scores in 0..1."""

    cruise_speed: float = 0.3
    turn_speed: float = 0.5
    caution_score: float = 0.05
    danger_score: float = 0.25
    timeout: float = 0.5
    max_linear_speed: float = 0.5
    max_angular_speed: float = 1.0
    max_linear_accel: float = 0.5
    max_angular_accel: float = 2.0

    def __post_init__(self) -> None:
        if not 0.0 <= self.caution_score < self.danger_score <= 1.0:
            raise ValueError('scores must satisfy 0 <= caution_score < danger_score <= 1, got '
                             f'caution={self.caution_score}, danger={self.danger_score}')
        if self.timeout <= 0:
            raise ValueError(f'timeout must be > 0 seconds, got {self.timeout}')
        for name in ('cruise_speed', 'turn_speed', 'max_linear_speed', 'max_angular_speed',
                     'max_linear_accel', 'max_angular_accel'):
            if getattr(self, name) < 0:
                raise ValueError(f'{name} must be >= 0, got {getattr(self, name)}')


@dataclass(frozen=True)
class Perception:
    """What the detector last said, and when (on the policy's clock)."""

    region_scores: Mapping[str, float]  # 'left', 'center', 'right'
    obstacle: bool
    stamp: float
    has_reference: bool = True


@dataclass(frozen=True)
class VelocityCommand:
    linear: float  # forward, m/s
    angular: float  # counter-clockwise (left) positive, rad/s (REP 103)
    state: DriveState
    reason: str


class AvoidancePolicy:
    """Decide a velocity command at each `step`, with rate limits between steps."""

    def __init__(self, config: PolicyConfig, clock: Callable[[], float]) -> None:
        self.config = config
        self._clock = clock
        self._last = VelocityCommand(0.0, 0.0, DriveState.STOP_STALE, 'not started')
        self._last_time = clock()  # the robot stands still from here on

    def step(self, perception: Perception | None, estop: bool) -> VelocityCommand:
        """Return the command for now, given the latest perception and the e-stop input."""
        now = self._clock()
        target = self._target(perception, estop, now)
        dt = max(0.0, now - self._last_time)
        cfg = self.config
        command = VelocityCommand(
            _limited(self._last.linear, target.linear, cfg.max_linear_speed,
                     cfg.max_linear_accel * dt),
            _limited(self._last.angular, target.angular, cfg.max_angular_speed,
                     cfg.max_angular_accel * dt),
            target.state, target.reason)
        self._last, self._last_time = command, now
        return command

    def _target(self, perception: Perception | None, estop: bool,
                now: float) -> VelocityCommand:
        cfg = self.config
        if estop:
            return VelocityCommand(0.0, 0.0, DriveState.ESTOP, 'e-stop engaged')
        if perception is None:
            return VelocityCommand(0.0, 0.0, DriveState.STOP_STALE, 'no perception yet')
        age = now - perception.stamp
        if age > cfg.timeout:
            return VelocityCommand(0.0, 0.0, DriveState.STOP_STALE,
                                   f'perception is {age:.2f} s old (timeout {cfg.timeout} s)')
        scores = perception.region_scores
        ahead, peak = scores['center'], max(scores.values())
        if perception.obstacle and ahead >= cfg.danger_score:
            left_is_clearer = scores['left'] <= scores['right']
            return VelocityCommand(
                0.0, cfg.turn_speed if left_is_clearer else -cfg.turn_speed, DriveState.AVOID,
                f'obstacle ahead (center {ahead:.2f}); turning '
                f'{"left" if left_is_clearer else "right"}')
        if peak >= cfg.caution_score or perception.obstacle or not perception.has_reference:
            fraction = 1.0 - min(1.0, max(0.0, peak - cfg.caution_score)
                                 / (cfg.danger_score - cfg.caution_score))
            if not perception.has_reference or perception.obstacle:
                fraction = min(fraction, UNCERTAIN_SPEED_FRACTION)
            return VelocityCommand(cfg.cruise_speed * fraction, 0.0, DriveState.CAUTION,
                                   f'motion {peak:.2f}; speed x{fraction:.2f}')
        return VelocityCommand(cfg.cruise_speed, 0.0, DriveState.CLEAR, 'clear')


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
