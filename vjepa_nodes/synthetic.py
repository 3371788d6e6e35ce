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

"""Deterministic synthetic camera scenes: a textured background with moving textured objects."""

from dataclasses import dataclass

import numpy as np

SYNTHETIC = 'synthetic'  # the camera source that generates the demo scene (see camera_sources)


@dataclass(frozen=True)
class MovingObject:
    """A textured square moving at constant velocity, bouncing inside a horizontal band."""

    x: float  # centre at t = 0, pixels
    y: float
    size: float  # side, pixels
    vx: float = 0.0  # pixels per second
    vy: float = 0.0
    growth: float = 0.0  # side change per second (approaching the camera when > 0)
    band: tuple[float, float] = (0.0, 1.0)  # allowed horizontal range, fractions of the width


def _texture(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """Return coarse colour blocks plus fine grain: texture at two scales, like real surfaces."""
    coarse = rng.uniform(0, 255, (max(2, height // 16), max(2, width // 16), 3))
    rows = np.linspace(0, coarse.shape[0] - 1, height)
    cols = np.linspace(0, coarse.shape[1] - 1, width)
    smooth = coarse[np.round(rows).astype(int)][:, np.round(cols).astype(int)]
    grain = rng.normal(0, 40, (height, width, 3))
    return np.clip(0.6 * smooth + grain + 50, 0, 255).astype(np.float32)


class SyntheticScene:
    """Render frames of a scene at any time; the same seed gives the same frames."""

    def __init__(self, width: int = 320, height: int = 240,
                 objects: tuple[MovingObject, ...] = (), seed: int = 0,
                 sensor_noise: float = 2.0) -> None:
        rng = np.random.default_rng(seed)
        self.width, self.height = width, height
        self.objects = tuple(objects)
        self.sensor_noise = sensor_noise
        self._background = _texture(rng, height, width)
        self._object_textures = [_texture(rng, 64, 64) for _ in self.objects]
        self._seed = seed

    def frame(self, t: float, brightness: float = 1.0) -> np.ndarray:
        """Return the RGB uint8 frame at time `t` seconds, with a global brightness gain."""
        image = self._background.copy()
        for obj, texture in zip(self.objects, self._object_textures):
            self._draw(image, obj, texture, t)
        noise_rng = np.random.default_rng((self._seed, round(t * 1e6) % 2**63))
        image = image * brightness + noise_rng.normal(0, self.sensor_noise, image.shape)
        return np.clip(image, 0, 255).astype(np.uint8)

    def _draw(self, image: np.ndarray, obj: MovingObject, texture: np.ndarray, t: float) -> None:
        size = max(2.0, obj.size + obj.growth * t)
        low, high = obj.band[0] * self.width + size / 2, obj.band[1] * self.width - size / 2
        x = _bounce(obj.x + obj.vx * t, low, high)
        y = _bounce(obj.y + obj.vy * t, size / 2, self.height - size / 2)
        top, left = int(round(y - size / 2)), int(round(x - size / 2))
        side = int(round(size))
        texture_index = np.linspace(0, texture.shape[0] - 1, side).astype(int)
        rows, cols = np.arange(top, top + side), np.arange(left, left + side)
        inside_rows = (rows >= 0) & (rows < self.height)  # crop what leaves the image
        inside_cols = (cols >= 0) & (cols < self.width)
        image[np.ix_(rows[inside_rows], cols[inside_cols])] = texture[
            np.ix_(texture_index[inside_rows], texture_index[inside_cols])]


def _bounce(position: float, low: float, high: float) -> float:
    """Fold a free position into [low, high] as if reflecting off both ends."""
    if high <= low:
        return (low + high) / 2
    span = high - low
    phase = (position - low) % (2 * span)
    return low + (phase if phase <= span else 2 * span - phase)
