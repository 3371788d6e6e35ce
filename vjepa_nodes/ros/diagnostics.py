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

"""Rates and latency percentiles for the detector's /diagnostics."""

from collections import deque
import time

from diagnostic_msgs.msg import DiagnosticStatus, KeyValue
import numpy as np

WINDOW = 10.0  # seconds of history behind rates and percentiles


class RateMeter:
    """Events per second over the last WINDOW seconds, plus an optional value per event."""

    def __init__(self) -> None:
        self._events: deque[tuple[float, float]] = deque()
        self.total = 0  # events since creation

    def add(self, value: float = 0.0) -> None:
        self._events.append((time.monotonic(), value))
        self.total += 1

    def _recent(self) -> list[tuple[float, float]]:
        cutoff = time.monotonic() - WINDOW
        while self._events and self._events[0][0] < cutoff:
            self._events.popleft()
        return list(self._events)

    def rate(self) -> float:
        return len(self._recent()) / WINDOW

    def percentile(self, q: float) -> float | None:
        values = [value for _, value in self._recent()]
        return float(np.percentile(values, q)) if values else None

    def age(self) -> float | None:
        """Seconds since the last event, None if there was none in the window."""
        recent = self._recent()
        return time.monotonic() - recent[-1][0] if recent else None


def detector_status(name: str, facts: dict[str, str], frames: RateMeter | None,
                    clips: RateMeter | None, problems: list[str],
                    warnings: list[str]) -> DiagnosticStatus:
    """Build one status: ERROR if `problems`, else WARN if `warnings`, else OK."""
    values = dict(facts)
    if frames is not None and clips is not None:
        p50, p95 = clips.percentile(50), clips.percentile(95)
        values.update({'input rate (Hz)': f'{frames.rate():.1f}',
                       'inference rate (Hz)': f'{clips.rate():.2f}',
                       'latency p50 (ms)': '-' if p50 is None else f'{p50 * 1e3:.0f}',
                       'latency p95 (ms)': '-' if p95 is None else f'{p95 * 1e3:.0f}'})
    if problems:
        level, message = DiagnosticStatus.ERROR, '; '.join(problems)
    elif warnings:
        level, message = DiagnosticStatus.WARN, '; '.join(warnings)
    else:
        level, message = DiagnosticStatus.OK, 'detecting'
    return DiagnosticStatus(level=level, name=name, message=message,
                            hardware_id=facts.get('device', ''),
                            values=[KeyValue(key=k, value=v) for k, v in values.items()])
