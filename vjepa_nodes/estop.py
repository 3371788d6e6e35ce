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
A latched emergency stop, as emergency-stop practice asks (ISO 13850, IEC 60204-1).

Engaging latches at once. Releasing the button does not move the robot: motion resumes only
after an explicit `reset`, which is refused while the button is still engaged, its heartbeat is
missing or a publisher of it cannot be heard. With `heartbeat` > 0 (the default), the e-stop
publisher must send a message (engaged or not) at least that often: the robot waits for the
first one, and a longer silence latches (a wireless e-stop out of range). A publisher the node
cannot hear (wrong type, incompatible QoS: `set_unheard`) latches too. With `start_latched`,
the latch is engaged at start-up, so a restarted node never forgets an e-stop.

Messages carry no sender here (rclpy on Humble gives a callback no publisher id), so an engaged
message holds the e-stop for one heartbeat period whatever arrives next; after that the newest
message decides. With several e-stop publishers, each repeating its state at the heartbeat, a
pressed one thus holds the stop whatever the others say; and a message heard twice (the node
reads the e-stop on two subscriptions) cannot end a stop by arriving late.
"""

from dataclasses import dataclass
from typing import Callable

from vjepa_nodes.settings import check_settings, setting


@dataclass(frozen=True)
class EStopConfig:
    """How the e-stop input is watched."""

    estop_heartbeat: float = setting(
        0.5, 'e-stop messages must arrive at least this often, s; the robot waits for the first '
        'one, and an engaged message holds the e-stop this long (0: no e-stop publisher '
        'required, so a silent or lost one does not stop the robot)', low=0.0, high=10.0)
    start_latched: bool = setting(
        True, 'start with the e-stop latched, so motion waits for a reset')

    def __post_init__(self) -> None:
        check_settings(self)


class EStopLatch:
    """Latch e-stop messages; `stop_reason` says why the robot must not move, or None."""

    def __init__(self, config: EStopConfig, clock: Callable[[], float]) -> None:
        self.config = config
        self._clock = clock
        self._newest_engaged = False  # what the newest message said
        self._last_engaged: float | None = None  # clock time of the newest engaged message
        self._last_message: float | None = None  # clock time of the newest message
        self._unheard = ''  # why a publisher of the e-stop cannot be heard ('' if none)
        self._latched = 'latched at start-up' if config.start_latched else ''

    @property
    def engaged(self) -> bool:
        """Whether the newest message says engaged, or an engaged one came within a heartbeat."""
        return self._newest_engaged or (
            self._last_engaged is not None
            and self._clock() - self._last_engaged < self.config.estop_heartbeat)

    def on_message(self, engaged: bool) -> bool:
        """
        Take one e-stop message: True engages (and latches), False releases the button.

        Returns whether it engaged an e-stop that was not engaged before.
        """
        was_engaged = self.engaged
        silence = self._silence()  # a gap the control loop may not have seen
        if silence and not self._latched:
            self._latched = silence
        self._last_message = self._clock()
        self._newest_engaged = engaged
        if engaged:
            self._last_engaged = self._last_message
            self._latched = 'e-stop engaged'
        return engaged and not was_engaged

    def set_unheard(self, problem: str) -> None:
        """Say why a publisher of the e-stop cannot be heard ('' once every one can)."""
        self._unheard = problem

    def reset(self) -> tuple[bool, str]:
        """Clear the latch if the e-stop is released, alive and heard; return (done, why)."""
        problem, _ = self._input_problem()
        if problem:
            return False, f'cannot reset: {problem}'
        if not self._latched:
            return True, 'not latched: nothing to reset'
        self._latched = ''
        return True, 'e-stop reset: motion allowed'

    def stop_reason(self) -> str | None:
        """Why the robot must stand still (latched, engaged or not yet heard), or None."""
        problem, latches = self._input_problem()
        if problem and latches and not self._latched:
            self._latched = problem
        if not self._latched:
            return problem or None
        if problem:
            return self._latched if problem == self._latched else f'{self._latched}; {problem}'
        return f'{self._latched}: call reset_estop to drive'

    def _input_problem(self) -> tuple[str, bool]:
        """Return what is wrong with the e-stop input now ('' if nothing), and if it latches."""
        if self.engaged:
            return 'e-stop engaged', True
        if self._unheard:
            return self._unheard, True
        heartbeat = self.config.estop_heartbeat
        if heartbeat > 0 and self._last_message is None:  # no fault: start_latched decides
            return f'no e-stop message yet (one is required every {heartbeat} s)', False
        silence = self._silence()
        return silence, bool(silence)

    def _silence(self) -> str:
        """Say how long the e-stop has been silent if longer than the heartbeat, else ''."""
        heartbeat = self.config.estop_heartbeat
        if heartbeat <= 0 or self._last_message is None:
            return ''
        silence = self._clock() - self._last_message
        if silence <= heartbeat:
            return ''
        return f'no e-stop heartbeat for {silence:.1f} s (required every {heartbeat} s)'
