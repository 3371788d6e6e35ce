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
after an explicit `reset`, which is refused while the button is still engaged or its heartbeat
is missing. With `heartbeat` > 0, the e-stop publisher must send a message (engaged or not) at
least that often; silence engages the latch (a wireless e-stop out of range). With
`start_latched`, the latch is engaged at start-up, so a restarted node never forgets an e-stop.
"""

from dataclasses import dataclass
from typing import Callable

from vjepa_nodes.settings import check_settings, setting


@dataclass(frozen=True)
class EStopConfig:
    """How the e-stop input is watched."""

    estop_heartbeat: float = setting(
        0.0, 'e-stop messages must arrive at least this often, s (0: no heartbeat)', low=0.0,
        high=10.0)
    start_latched: bool = setting(
        True, 'start with the e-stop latched, so motion waits for a reset')

    def __post_init__(self) -> None:
        check_settings(self)


class EStopLatch:
    """Latch e-stop messages; `stop_reason` says why the robot must not move, or None."""

    def __init__(self, config: EStopConfig, clock: Callable[[], float]) -> None:
        self.config = config
        self._clock = clock
        self._engaged = False  # the last message said engaged
        self._last_message = clock()  # the heartbeat is due one period after start-up
        self._latched = 'latched at start-up' if config.start_latched else ''

    def on_message(self, engaged: bool) -> None:
        """Take one e-stop message: True engages (and latches), False releases the button."""
        self._last_message = self._clock()
        self._engaged = engaged
        if engaged:
            self._latched = 'e-stop engaged'

    def reset(self) -> tuple[bool, str]:
        """Clear the latch if the e-stop is released and alive; return (done, why)."""
        problem = self._input_problem()
        if problem:
            return False, f'cannot reset: {problem}'
        if not self._latched:
            return True, 'not latched: nothing to reset'
        self._latched = ''
        return True, 'e-stop reset: motion allowed'

    def stop_reason(self) -> str | None:
        """Why the robot must stand still (latched or engaged), or None."""
        problem = self._input_problem()
        if problem and not self._latched:
            self._latched = problem
        if not self._latched:
            return None
        if problem:
            return self._latched if problem == self._latched else f'{self._latched}; {problem}'
        return f'{self._latched}: call reset_estop to drive'

    def _input_problem(self) -> str:
        if self._engaged:
            return 'e-stop engaged'
        heartbeat = self.config.estop_heartbeat
        silence = self._clock() - self._last_message
        if heartbeat > 0 and silence > heartbeat:
            return f'no e-stop heartbeat for {silence:.1f} s (required every {heartbeat} s)'
        return ''
