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
A ring of the newest camera frames, handed out as clips every `stride` frames.

The first clip after a start or restart is ready when the ring is full, or `phase` frames
later; the next `stride` frames after the last one taken. With `grid` (staggered cameras) the
next ones stay on every `stride`-th frame after the first, also when a clip is taken late (the
next grid point at least 3/4 stride away), so cameras whose frames arrive together keep
finishing their clips on different frames. With a `clock` shared by the cameras, frames are
counted by stamp (in frame periods, the median of recent one-frame intervals, so lost frames
count) and the phase on the clock instead of from this camera's start: every clip is the first
whose newest frame is `phase + num_frames - 1` frames past a multiple of `stride` on the clock
(after the first, at least 3/4 stride after the last), as if every camera had started with the
clock; a camera whose own count slipped is back on its phase with its next clip.

The buffer never mixes incompatible frames in one clip: a frame of another size, or a jump of
more than `max_gap` seconds from the previous frame (forward: an outage; backward: a restarted
clock or a looped recording), starts a new clip from scratch. Frames whose stamp repeats the
previous one are ignored, and frames slightly older than the previous one are rejected.
`add` and `take_clip` may be called from different threads.
"""

from collections import deque
from dataclasses import dataclass
from enum import Enum
import math
import statistics
import threading
import time

import numpy as np


PERIOD_HISTORY = 64  # frame intervals a clocked buffer estimates its frame period from
SAME_RATE = 0.15  # periods this close (a fraction) are one frame rate (PhaseClock)
BASELINE = 8  # frames a PhaseClock counts before it trusts its own period


class FrameStatus(Enum):
    """What `ClipBuffer.add` did with a frame."""

    ADDED = 'added'
    DUPLICATE = 'duplicate'  # same stamp as the previous frame: ignored
    OUT_OF_ORDER = 'out_of_order'  # older than the previous frame: rejected
    RESET_SIZE = 'reset_size'  # frame size changed: buffer restarted with this frame
    RESET_GAP = 'reset_gap'  # stamp jumped by more than max_gap: buffer restarted


@dataclass(frozen=True)
class Clip:
    """`num_frames` consecutive frames and their stamps (seconds), oldest first."""

    frames: tuple[np.ndarray, ...]
    stamps: tuple[float, ...]
    epoch: int  # increases at every restart: clips of different epochs must not be compared
    received: float = 0.0  # time.monotonic() when its newest frame was stored

    @property
    def time_span(self) -> float:
        return self.stamps[-1] - self.stamps[0]


@dataclass
class BufferCounters:
    """Frame accounting since the buffer was created."""

    added: int = 0
    duplicates: int = 0
    out_of_order: int = 0
    resets: int = 0
    dropped: int = 0  # frames that left the buffer without ever being part of a clip


class PhaseClock:
    """
    The frame count from which staggered cameras take their phases: one per detector.

    Counting from each camera's own start would leave the phases to chance, since cameras are
    heard at different moments (discovery, a restart); counted on one clock, cameras whose
    frames come on the same ticks keep finishing their clips on different frames.
    """

    def __init__(self) -> None:
        self._origin: tuple[float, int] | None = None  # the first answer's (stamp, number)
        self._reference: tuple[float, int] | None = None  # the latest, of the clock's rate
        self._frame_period = 0.0  # s, the first asker's estimate
        self._lock = threading.Lock()

    def frame_number(self, stamp: float, period: float, first: int = 0) -> int:
        """
        Return the number of the frame stamped `stamp`, frames being about `period` s apart.

        The first stamp asked about is frame `first`. Answers to cameras of the clock's frame
        rate become the reference for the next, counted in the clock's period once it has
        counted BASELINE frames: its time over its count, which stamp jitter barely moves (a
        camera's own estimate, from a few dozen intervals, would let counts slip by one). A
        camera of another rate counts in its own period and only reads the clock.
        """
        with self._lock:
            if self._reference is None:
                self._origin = self._reference = (stamp, first)
                self._frame_period = period
            (origin_stamp, origin_number), (last_stamp, last_number) = (self._origin,
                                                                        self._reference)
            counted = last_number - origin_number
            clock_period = (last_stamp - origin_stamp) / counted if counted >= BASELINE else None
            same_rate = abs(period - (clock_period or self._frame_period)) <= SAME_RATE * period
            number = last_number + round((stamp - last_stamp) / (
                clock_period if same_rate and clock_period else period))
            if same_rate and number > last_number:
                self._reference = (stamp, number)
            return number


class ClipBuffer:
    """Ring of `num_frames` frames; a clip is ready when full (+ phase), then every `stride`."""

    def __init__(self, num_frames: int, stride: int, max_gap: float, phase: int = 0,
                 grid: bool = False, clock: PhaseClock | None = None) -> None:
        if num_frames < 2 or num_frames % 2:
            raise ValueError(f'num_frames must be even and >= 2, got {num_frames}')
        if stride < 1:
            raise ValueError(f'stride must be >= 1, got {stride}')
        if not max_gap > 0:
            raise ValueError(f'max_gap must be > 0 seconds, got {max_gap}')
        if phase < 0:
            raise ValueError(f'phase must be >= 0 frames, got {phase}')
        self.num_frames, self.stride, self.max_gap = num_frames, stride, max_gap
        self.phase, self.grid, self.clock = phase, grid, clock
        self.counters = BufferCounters()
        self._frames: deque[tuple[np.ndarray, float]] = deque()
        self._new = 0  # frames added since the last clip; the newest of them are in the ring
        self._fresh = True  # no clip since start or restart: the first is due when full + phase
        self._due_in = num_frames + phase  # frames until the next clip is due (<= 0: overdue)
        self._epoch = 0
        self._received = 0.0
        self._intervals: deque[float] = deque(maxlen=PERIOD_HISTORY)  # s, with a clock
        self._lock = threading.Lock()

    def add(self, frame: np.ndarray, stamp: float, copy: bool = True) -> FrameStatus:
        """
        Store a frame taken at `stamp` seconds; return what happened to it.

        The frame is copied in unless `copy` is False: then the caller hands over an array that
        nobody else writes to (the detector's pinned upload copy).
        """
        if not math.isfinite(stamp):
            raise ValueError(f'frame stamp must be a finite number of seconds, got {stamp}')
        with self._lock:
            status = self._classify(frame, stamp)
            if status in (FrameStatus.DUPLICATE, FrameStatus.OUT_OF_ORDER):
                return status
            if status is not FrameStatus.ADDED:
                self._restart()
                self.counters.resets += 1
            if len(self._frames) == self.num_frames:
                self._frames.popleft()
                if self._new >= self.num_frames:  # every frame in the ring is new: never used
                    self.counters.dropped += 1
            last = self._frames[-1][1] if self._frames else None
            self._frames.append((frame.copy() if copy else frame, stamp))
            self._received = time.monotonic()
            self._new += 1
            if self.clock is None or last is None:
                self._due_in -= 1
            else:  # in frame periods: frames this camera lost do not move its clips
                self._intervals.append(stamp - last)
                self._due_in -= max(1, round((stamp - last) / self._period()))
            if self._fresh and self.clock is not None and self._new == self.num_frames:
                self._due_in = self._due_on_clock(soonest=0)
            self.counters.added += 1
            return status

    @property
    def clip_ready(self) -> bool:
        """Return whether take_clip would return a clip now."""
        with self._lock:
            return self._ready()

    def take_clip(self) -> Clip | None:
        """Return the newest clip if one is ready, else None."""
        with self._lock:
            if not self._ready():
                return None
            self._new, self._fresh = 0, False
            if self.clock is not None:  # the clock, not this camera's count, places the next
                self._due_in = self._due_on_clock(soonest=self.stride - self.stride // 4)
            else:
                self._due_in = self._next_on_grid(-self._due_in) if self.grid else self.stride
            return Clip(tuple(f for f, _ in self._frames), tuple(s for _, s in self._frames),
                        self._epoch, self._received)

    def _due_on_clock(self, soonest: int) -> int:
        """
        Return the frames, from a full ring, to the next clip on this camera's clock phase.

        That clip's first frame is `phase` past a multiple of `stride` on the shared clock; it
        is `soonest` or more frames away.
        """
        # The first camera to ask counts its frames from 0: its clips keep their phase.
        newest = self.clock.frame_number(self._frames[-1][1], self._period(), self.num_frames - 1)
        return (self.phase + self.num_frames - 1 - newest - soonest) % self.stride + soonest

    def _period(self) -> float:
        """Return the frame period (with a clock): the median of the one-frame intervals."""
        # Lost frames make intervals of two or more periods, and while a stall drops most
        # frames those are the majority; jitter spreads the one-frame ones around the period.
        # This holds while a tenth of the intervals are of one frame and under a tenth are
        # bursts (two frames stamped nearly together: then the period comes out too short).
        intervals = sorted(self._intervals)
        one_frame = 1.5 * intervals[len(intervals) // 10]
        return statistics.median(interval for interval in intervals if interval <= one_frame)

    def _ready(self) -> bool:
        return len(self._frames) == self.num_frames and self._due_in <= 0

    def _next_on_grid(self, late: int) -> int:
        """
        Return the frames until the next clip, the last one having been taken `late` frames late.

        The next stays on the grid, so that staggered cameras stay spread even after a long
        stall (the first clip's compilation). A slip of up to stride/4 frames is caught up at
        the next grid point, a larger one at the one after: consecutive clips are never under
        3/4 stride apart, so motion is never compared over a much shorter interval than usual.
        (With a clock, `_due_on_clock` places the next clip by the same rule.)
        """
        late %= self.stride
        return self.stride - late + (self.stride if late > self.stride // 4 else 0)

    def retime(self, stride: int, phase: int) -> None:
        """
        Take a new stride and phase; a change applies to the next clip.

        Before the first clip after a start or restart: due when full + the new phase. After:
        due `stride` frames after the last one (with the next frame if that has passed); with
        `grid`, `phase` frames after the next frame, on a new grid (with a clock: the next
        clip whose first frame is at the phase on the clock), a stride later where that would
        follow the last clip by under 3/4 stride, so that cameras retimed together are spread
        again.
        """
        if stride < 1 or phase < 0:
            raise ValueError(f'stride must be >= 1 and phase >= 0, got {stride} and {phase}')
        with self._lock:
            if (stride, phase) == (self.stride, self.phase):
                return  # the countdown stays where it is, on its grid
            self.stride, self.phase = stride, phase
            if self.clock is not None and len(self._frames) == self.num_frames:
                due = self._due_on_clock(soonest=1)  # from the next frame on
                soon = not self._fresh and self._new + due < stride - stride // 4
                self._due_in = due + (stride if soon else 0)
            elif self._fresh:
                self._due_in = self.num_frames + phase - self._new
            elif self.grid:  # on the phase-th frame after the next one, on a new grid
                soon = self._new + 1 + phase < stride - stride // 4
                self._due_in = 1 + phase + (stride if soon else 0)
            else:
                self._due_in = max(stride - self._new, 1)

    def reset(self) -> None:
        """Forget every frame, e.g. after a camera outage, so no clip spans it."""
        with self._lock:
            self._restart()

    def __len__(self) -> int:
        return len(self._frames)

    def _classify(self, frame: np.ndarray, stamp: float) -> FrameStatus:
        if not self._frames:
            return FrameStatus.ADDED
        last_frame, last_stamp = self._frames[-1]
        if abs(stamp - last_stamp) > self.max_gap:
            return FrameStatus.RESET_GAP
        if stamp == last_stamp:
            self.counters.duplicates += 1
            return FrameStatus.DUPLICATE
        if stamp < last_stamp:
            self.counters.out_of_order += 1
            return FrameStatus.OUT_OF_ORDER
        if frame.shape != last_frame.shape:
            return FrameStatus.RESET_SIZE
        return FrameStatus.ADDED

    def _restart(self) -> None:
        self.counters.dropped += min(self._new, len(self._frames))
        self._frames.clear()
        self._intervals.clear()
        self._new, self._fresh, self._due_in = 0, True, self.num_frames + self.phase
        self._epoch += 1
