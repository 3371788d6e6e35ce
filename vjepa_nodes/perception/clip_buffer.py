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

The buffer never mixes incompatible frames in one clip: a frame of another size, or one that
arrives after a gap longer than `max_gap`, starts a new clip from scratch. Frames whose stamp
repeats the previous one are ignored, and frames older than the previous one are rejected.
"""

from collections import deque
from dataclasses import dataclass, field
from enum import Enum

import numpy as np


class FrameStatus(Enum):
    """What `ClipBuffer.add` did with a frame."""

    ADDED = 'added'
    DUPLICATE = 'duplicate'  # same stamp as the previous frame: ignored
    OUT_OF_ORDER = 'out_of_order'  # older than the previous frame: rejected
    RESET_SIZE = 'reset_size'  # frame size changed: buffer restarted with this frame
    RESET_GAP = 'reset_gap'  # too long since the previous frame: buffer restarted


@dataclass(frozen=True)
class Clip:
    """`num_frames` consecutive frames and their stamps (seconds), oldest first."""

    frames: tuple[np.ndarray, ...]
    stamps: tuple[float, ...]
    index: int  # how many clips this buffer handed out before this one

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


@dataclass
class ClipBuffer:
    """Ring of `num_frames` frames; a clip is ready when full and `stride` frames are new."""

    num_frames: int
    stride: int
    max_gap: float
    counters: BufferCounters = field(default_factory=BufferCounters)

    def __post_init__(self) -> None:
        if self.num_frames < 2 or self.num_frames % 2:
            raise ValueError(f'num_frames must be even and >= 2, got {self.num_frames}')
        if self.stride < 1:
            raise ValueError(f'stride must be >= 1, got {self.stride}')
        if self.max_gap <= 0:
            raise ValueError(f'max_gap must be > 0 seconds, got {self.max_gap}')
        self._frames: deque[tuple[np.ndarray, float, bool]] = deque()  # (frame, stamp, used)
        self._new_since_clip = 0
        self._clips_taken = 0
        self._fresh = True  # no clip taken since start or reset: the first is due when full

    def add(self, frame: np.ndarray, stamp: float) -> FrameStatus:
        """Add a frame taken at `stamp` seconds; return what happened to it."""
        status = FrameStatus.ADDED
        if self._frames:
            last_frame, last_stamp, _ = self._frames[-1]
            if stamp == last_stamp:
                self.counters.duplicates += 1
                return FrameStatus.DUPLICATE
            if stamp < last_stamp:
                self.counters.out_of_order += 1
                return FrameStatus.OUT_OF_ORDER
            if frame.shape != last_frame.shape:
                status = FrameStatus.RESET_SIZE
            elif stamp - last_stamp > self.max_gap:
                status = FrameStatus.RESET_GAP
        if status is not FrameStatus.ADDED:
            self.reset()
            self.counters.resets += 1
        if len(self._frames) == self.num_frames:
            self._evict()
        self._frames.append((frame, stamp, False))
        self._new_since_clip += 1
        self.counters.added += 1
        return status

    def ready(self) -> bool:
        """Whether a full clip is waiting: the first one, then one every `stride` frames."""
        return len(self._frames) == self.num_frames and (
            self._fresh or self._new_since_clip >= self.stride)

    def take_clip(self) -> Clip | None:
        """Return the newest clip if one is ready, else None."""
        if not self.ready():
            return None
        self._frames = deque((frame, stamp, True) for frame, stamp, _ in self._frames)
        clip = Clip(tuple(f for f, _, _ in self._frames), tuple(s for _, s, _ in self._frames),
                    self._clips_taken)
        self._new_since_clip = 0
        self._clips_taken += 1
        self._fresh = False
        return clip

    def reset(self) -> None:
        """Forget every frame, e.g. after a camera outage, so no clip spans it."""
        while self._frames:
            self._evict()
        self._new_since_clip = 0
        self._fresh = True

    def __len__(self) -> int:
        return len(self._frames)

    def _evict(self) -> None:
        _, _, used = self._frames.popleft()
        if not used:
            self.counters.dropped += 1
