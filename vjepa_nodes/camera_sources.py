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
Camera frame sources for the camera node: OpenCV devices, files and streams, or a synthetic scene.

`source` strings: 'synthetic' (the built-in demo scene), a webcam index ('0'), a video file path,
or a stream URL ('rtsp://...', 'http://...'). Frames come out as H x W x 3 uint8 in the order the
source names ('bgr' for OpenCV, 'rgb' for the synthetic scene).
"""

from dataclasses import dataclass
import time

import cv2
import numpy as np

from vjepa_nodes.corridor import CorridorScene, MOVING_FROM, PERIOD
from vjepa_nodes.synthetic import SYNTHETIC

SCENE_PERIOD = PERIOD  # seconds: the synthetic scene restarts, so the approaching box returns


class SourceError(RuntimeError):
    """A camera source that cannot be opened or stopped delivering frames."""


class EndOfFile(SourceError):
    """A video file that ended and is not looped."""


def demo_scene(width: int, height: int, seed: int) -> CorridorScene:
    """Return the demo scene: a corridor where people cross, a box approaches and a ball rolls."""
    return CorridorScene(width, height, seed=seed)


def moving_demo_frames(width: int, height: int, fps: float, count: int) -> list[np.ndarray]:
    """Return `count` frames of the demo scene at `fps` while something moves, for benchmarks."""
    scene = demo_scene(width, height, seed=0)
    return [scene.frame(MOVING_FROM + i / fps) for i in range(count)]


@dataclass
class SyntheticSource:
    """Frames of the demo scene since opening, repeating every SCENE_PERIOD seconds."""

    scene: CorridorScene
    started: float
    channel_order: str = 'rgb'

    def read(self) -> np.ndarray:
        return self.scene.frame((time.monotonic() - self.started) % SCENE_PERIOD)

    def close(self) -> None:
        """Nothing to release."""


class OpenCvSource:
    """A webcam, video file or stream through cv2.VideoCapture; files may loop."""

    channel_order = 'bgr'

    def __init__(self, source: str, width: int, height: int, fps: float, loop: bool) -> None:
        self._is_file = not source.isdigit() and '://' not in source
        self._loop = loop
        self._capture = cv2.VideoCapture(int(source) if source.isdigit() else source)
        if not self._capture.isOpened():
            self._capture.release()
            raise SourceError(f'cannot open camera source {source!r}')
        if not self._is_file:  # requests; a device may pick the nearest mode it has
            self._capture.set(cv2.CAP_PROP_FRAME_WIDTH, width)
            self._capture.set(cv2.CAP_PROP_FRAME_HEIGHT, height)
            self._capture.set(cv2.CAP_PROP_FPS, fps)
        self._source = source

    def read(self) -> np.ndarray:
        ok, frame = self._capture.read()
        if not ok and self._is_file and self._loop:
            self._capture.set(cv2.CAP_PROP_POS_FRAMES, 0)
            ok, frame = self._capture.read()
        if not ok and self._is_file:
            raise EndOfFile(f'video file {self._source!r} ended')
        if not ok:
            raise SourceError(f'camera source {self._source!r} delivered no frame')
        return frame

    def close(self) -> None:
        self._capture.release()


def open_source(source: str, width: int, height: int, fps: float, loop: bool,
                seed: int) -> SyntheticSource | OpenCvSource:
    """Open `source` (see the module docstring); raise SourceError if it cannot be opened."""
    if source == SYNTHETIC:
        return SyntheticSource(demo_scene(width, height, seed), time.monotonic())
    return OpenCvSource(source, width, height, fps, loop)


def fit_frame(frame: np.ndarray, width: int, height: int) -> np.ndarray:
    """Resize a frame to width x height if it has another size (devices pick their own modes)."""
    if frame.shape[:2] == (height, width):
        return frame
    return cv2.resize(frame, (width, height), interpolation=cv2.INTER_AREA)
