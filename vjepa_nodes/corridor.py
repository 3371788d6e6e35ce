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
The demo camera scene: a corridor seen from a robot at knee height, with people and props moving.

The room (a tiled floor receding to the vanishing point, walls with doors and a notice board,
ceiling lights, an open double door in the far wall) is ray-cast once per scene. Each frame copies
it, draws the props on stage at that time (a cardboard box with lit and shaded faces, a rolling
ball, walking people, all with soft shadows) in perspective and adds sensor noise. PROPS is the
timeline; it repeats every PERIOD seconds (times below are within the period):

 0.0-2.0   still
 2.0-5.0   a person walks across: left third, centre, right third
 5.0-7.0   still
 7.0-11.6  a box slides out of the far door straight at the camera, growing and moving down to
           fill the bottom centre (the dramatic moment), then slides off to the left
11.6-13.5  still
13.5-16.0  a ball rolls in from the right edge, approaches and leaves on the right
16.0-18.0  still
18.0-22.0  a person steps out of the left door and walks past the camera on the left
22.0-24.0  still

A robot that drives can be rendered too: `frame(t, pose=CameraPose(x, z, yaw))` ray-casts the
room from that pose for each frame and draws every prop where it stands relative to the camera.
"""

from dataclasses import dataclass
import math
from typing import NamedTuple

import cv2
import numpy as np

PERIOD = 24.0  # seconds; each still phase lasts 2 s, so that motion scores can fall
MOVING_FROM = 7.0  # s: the box approaches; benchmarks time frames from here, not a still phase

CAMERA_HEIGHT = 0.45  # metres: about knee height
HORIZON = 0.4  # row of the vanishing point, fraction of the height: the camera looks a bit down
FIELD_OF_VIEW = (70.0, 55.0)  # degrees across and up-down; the tighter one sets the focal length
MAX_FIELD_OF_VIEW = 120.0  # degrees: a very wide or tall frame crops the view instead
HALF_WIDTH, CEILING, FAR_WALL = 2.8, 2.7, 14.0  # metres: the corridor around the camera
NEAR = 0.3  # metres: a prop closer than this to the camera is not drawn
LIGHT = np.array([-0.45, 0.8, -0.4]) / np.linalg.norm([-0.45, 0.8, -0.4])  # towards the lamps

FLOOR_TILES = ((196, 190, 176), (150, 146, 138))  # RGB of the checkered tiles
TILE, GROUT = 0.6, 0.012  # metres
WALL, BASEBOARD, CEILING_PAINT, LAMP = (176, 190, 196), (70, 66, 62), (214, 212, 204), (255,) * 3
# Rectangles painted on the walls, later ones on top: wall, span along it (z on the side walls, x
# on the far wall), span of heights, RGB. Doors and a notice board at known depths.
WALL_PAINT = (
    ('left', 6.0, 7.2, 0.0, 2.15, (96, 76, 60)),  # door frame
    ('left', 6.07, 7.13, 0.0, 2.1, (42, 38, 36)),  # open door: a dark room behind
    ('right', 8.5, 9.7, 0.0, 2.15, (96, 76, 60)),
    ('right', 8.57, 9.63, 0.0, 2.1, (156, 108, 66)),  # closed wooden door
    ('right', 8.72, 8.82, 0.95, 1.02, (220, 214, 190)),  # its handle
    ('right', 4.0, 5.6, 1.1, 1.9, (120, 84, 56)),  # notice board
    ('right', 4.15, 4.7, 1.3, 1.75, (236, 234, 224)),  # notices pinned on it
    ('right', 4.85, 5.4, 1.2, 1.6, (230, 200, 90)),
    ('far', -1.0, 1.0, 0.0, 2.3, (96, 76, 60)),  # frame of the open double door
    ('far', -0.92, 0.92, 0.0, 2.22, (24, 24, 28)),  # the dark corridor behind it
    ('left', 0.0, FAR_WALL, 0.0, 0.12, BASEBOARD),
    ('right', 0.0, FAR_WALL, 0.0, 0.12, BASEBOARD),
    ('far', -HALF_WIDTH, HALF_WIDTH, 0.0, 0.12, BASEBOARD),
)
LAMP_SPACING, LAMP_SIZE = 3.0, (0.5, 1.2)  # metres: ceiling panels along the middle


@dataclass(frozen=True)
class Prop:
    """
    Something standing on the floor that moves along waypoints.

    It is on stage from its first waypoint's time to its last one's, moving at constant speed
    between them, and absent otherwise; a single waypoint is a prop that never moves, painted into
    the room once (so moving props must not pass behind one).
    """

    shape: str  # 'box', 'ball' or 'person'
    colour: tuple[int, int, int]  # RGB of its lit surface (a person's shirt)
    size: tuple[float, float, float]  # metres: width, height, depth (a ball: diameter first)
    path: tuple[tuple[float, float, float], ...]  # (t seconds, x, z metres) on the floor
    yaw: float = 0.0  # degrees: a box turned about the vertical


PROPS = (
    Prop('box', (168, 128, 84), (0.6, 0.42, 0.5), ((0.0, -2.2, 8.0),), yaw=20.0),
    Prop('box', (150, 112, 76), (0.5, 0.35, 0.5), ((0.0, 2.1, 10.5),), yaw=-10.0),
    Prop('person', (52, 96, 170), (0.42, 1.72, 0.25), ((2.0, -3.0, 3.4), (5.0, 3.0, 3.4))),
    Prop('box', (176, 134, 88), (0.6, 0.36, 0.5),
         ((7.0, 0.0, 13.9), (9.0, 0.0, 5.0), (11.0, 0.0, 1.0), (11.6, -1.6, 1.0)), yaw=30.0),
    Prop('ball', (214, 52, 40), (0.34, 0.34, 0.34),
         ((13.5, 2.6, 3.2), (15.0, 0.8, 1.8), (16.0, 1.5, 1.0))),
    Prop('person', (186, 70, 60), (0.4, 1.65, 0.25),
         ((18.0, -2.75, 6.6), (18.6, -2.2, 6.2), (22.0, -1.7, 1.2))),
)


class CameraPose(NamedTuple):
    """Where the camera stands on the floor (x, z metres) and where it looks (yaw, degrees)."""

    x: float = 0.0
    z: float = 0.0
    yaw: float = 0.0  # positive: turned to the right (towards +x)

    def relative(self, pose: '_Pose') -> '_Pose':
        """Return a prop's pose as seen from this camera (the camera at 0, looking along +z)."""
        cos, sin = math.cos(math.radians(self.yaw)), math.sin(math.radians(self.yaw))
        dx, dz = pose.x - self.x, pose.z - self.z
        return pose._replace(x=dx * cos - dz * sin, z=dx * sin + dz * cos,
                             heading=pose.heading + math.radians(self.yaw))


class CorridorScene:
    """Render the demo scene at any time and size; the same seed gives the same frames."""

    def __init__(self, width: int = 320, height: int = 240, seed: int = 0,
                 props: tuple[Prop, ...] = PROPS, sensor_noise: int = 4) -> None:
        """Ray-cast the room and paint the still props once; grain is +-`sensor_noise` levels."""
        rng = np.random.default_rng(seed)
        self.width, self.height = width, height
        self._seed = seed
        self._camera = _Camera.for_image(width, height)
        self._props = props
        self._moving = tuple(prop for prop in props if len(prop.path) > 1)
        self._texture = (rng.random(2**16).astype(np.float32),  # hashed texture values
                         rng.uniform(-5, 5, 3))  # the paint differs a little from seed to seed
        self._room = _room(self._camera, width, height, *self._texture)
        for prop in props:
            if len(prop.path) == 1:
                _draw(self._room, self._camera, prop, _pose(prop, 0.0))
        # Grain comes from a precomputed bank shifted by a random offset per frame: drawing fresh
        # normal noise for every pixel would cost more than rendering the whole frame.
        self._grain = rng.integers(0, sensor_noise + 1, (height + _SHIFT, width + _SHIFT, 3),
                                   dtype=np.uint8) if sensor_noise > 0 else None

    def frame(self, t: float, brightness: float = 1.0,
              pose: CameraPose | None = None) -> np.ndarray:
        """
        Return the RGB uint8 frame at time `t` seconds, with a global brightness gain.

        `pose`: the camera's, for a robot that drives (None: the demo's fixed camera).
        """
        if pose is None:
            image = self._room.copy()
            poses = [(seen, prop) for prop in self._moving
                     if (seen := _pose(prop, t % PERIOD)) is not None]
        else:
            image = _room(self._camera, self.width, self.height, *self._texture, pose)
            poses = [(pose.relative(seen), prop) for prop in self._props
                     if (seen := _pose(prop, t % PERIOD)) is not None]
        for pose, prop in sorted(poses, key=lambda item: -item[0].z):  # near ones hide far ones
            _draw(image, self._camera, prop, pose)
        if brightness != 1.0:
            image = cv2.convertScaleAbs(image, alpha=brightness)
        if self._grain is not None:
            # Adding the bank at one offset and subtracting it at another gives zero-mean noise.
            rng = np.random.default_rng((self._seed, round(t * 1e6) % 2**63))
            (add_row, add_col), (sub_row, sub_col) = rng.integers(0, _SHIFT + 1, (2, 2))
            image = cv2.add(image, self._grain[add_row:add_row + self.height,
                                               add_col:add_col + self.width])
            image = cv2.subtract(image, self._grain[sub_row:sub_row + self.height,
                                                    sub_col:sub_col + self.width])
        return image


_SHIFT = 16  # pixels: how far the grain bank may shift between frames
_BLOCK = 2**20  # samples ray-cast at once: bounds the memory of huge frames
_SUBPIXEL = 4  # fractional bits of the points given to OpenCV: smooth motion, no pixel snapping
_EYE = np.array([0.0, CAMERA_HEIGHT, 0.0])
_UP = np.array([0.0, 1.0, 0.0])


@dataclass(frozen=True)
class _Camera:
    """A pinhole camera at knee height looking down the corridor (+z), x to the right, y up."""

    focal: float
    cx: float
    cy: float

    @classmethod
    def for_image(cls, width: int, height: int) -> '_Camera':
        """Return the camera of a width x height image, the vanishing point at HORIZON."""
        across, up_down = (math.tan(math.radians(angle) / 2) for angle in FIELD_OF_VIEW)
        focal = max(min(width / (2 * across), height / (2 * up_down)),  # any aspect sees it all
                    max(width, height) / (2 * math.tan(math.radians(MAX_FIELD_OF_VIEW) / 2)))
        return cls(focal, (width - 1) / 2, HORIZON * height - 0.5)

    def project(self, points: np.ndarray) -> np.ndarray:
        """Return pixel (column, row) of world points (..., 3) in front of the camera."""
        z = points[..., 2]
        return np.stack([self.cx + self.focal * points[..., 0] / z,
                         self.cy - self.focal * (points[..., 1] - CAMERA_HEIGHT) / z], axis=-1)


def _room(camera: _Camera, width: int, height: int, table: np.ndarray, tint: np.ndarray,
          pose: CameraPose = CameraPose()) -> np.ndarray:
    """Ray-cast the empty corridor into an RGB uint8 image, supersampled against aliasing."""
    scale = 2 if width * height <= 2_000_000 else 1  # distant grout lines flicker without it
    rows_per_block = max(1, _BLOCK // (width * scale * scale))
    u = (np.arange(width * scale) + 0.5) / scale - 0.5
    blocks = []
    for top in range(0, height, rows_per_block):
        v = (np.arange(top * scale, min(height, top + rows_per_block) * scale) + 0.5) / scale - 0.5
        colour = _shade(camera, u[None, :], v[:, None], table, tint, pose)
        blocks.append(cv2.resize(colour, (width, len(v) // scale), interpolation=cv2.INTER_AREA))
    return np.clip(np.concatenate(blocks), 0, 255).astype(np.uint8)


def _shade(camera: _Camera, u: np.ndarray, v: np.ndarray, table: np.ndarray,
           tint: np.ndarray, pose: CameraPose) -> np.ndarray:
    """Return the float32 RGB seen through pixel positions (column u, row v) from `pose`."""
    right, up = np.broadcast_arrays((u - camera.cx) / camera.focal, (camera.cy - v) / camera.focal)
    # The ray through each pixel in room axes, per metre of depth along the view.
    cos, sin = math.cos(math.radians(pose.yaw)), math.sin(math.radians(pose.yaw))
    across, ahead = right * cos + sin, cos - right * sin
    # Depth along the view to each surface; the nearest one is seen. Behind the camera the
    # corridor ends in a wall like the far one, in case a turn looks back.
    side = np.where(across > 0, HALF_WIDTH - pose.x, -HALF_WIDTH - pose.x)
    end = np.where(ahead > 0, FAR_WALL - pose.z, -FAR_WALL - pose.z)
    depth = np.stack([
        np.where(up < 0, CAMERA_HEIGHT / np.maximum(-up, 1e-9), np.inf),
        np.where(up > 0, (CEILING - CAMERA_HEIGHT) / np.maximum(up, 1e-9), np.inf),
        np.where(across != 0, side / np.where(across != 0, across, 1.0), np.inf),
        np.where(ahead != 0, end / np.where(ahead != 0, ahead, 1.0), np.inf)])
    surface = depth.argmin(axis=0)
    z = depth.min(axis=0)
    x, y, z_room = pose.x + across * z, CAMERA_HEIGHT + up * z, pose.z + ahead * z
    colour = np.empty(right.shape + (3,), np.float32)
    floor, ceiling, wall = surface == 0, surface == 1, surface >= 2
    colour[floor] = _floor(x[floor], z_room[floor], table, tint)
    colour[ceiling] = _ceiling(x[ceiling], z_room[ceiling], table)
    colour[wall] = _walls(x[wall], y[wall], z_room[wall], surface[wall] == 3, table, tint)
    light = _light(z) / (1 + 0.2 * (right**2 + up**2))  # lens vignetting
    return colour * light[..., None]


def _floor(x: np.ndarray, z: np.ndarray, table: np.ndarray, tint: np.ndarray) -> np.ndarray:
    """Checkered tiles, each a little different, with grout lines and fine grain."""
    i, j = np.floor(x / TILE), np.floor(z / TILE)
    colour = np.array(FLOOR_TILES, np.float32)[((i + j) % 2).astype(int)] + tint
    colour *= (0.94 + 0.12 * _hash(table, i, j))[:, None]
    colour *= (0.88 + 0.24 * _smooth_hash(table, x / 0.02, z / 0.02))[:, None]
    fx, fz = x / TILE - i, z / TILE - j
    edge = np.minimum(np.minimum(fx, 1 - fx), np.minimum(fz, 1 - fz)) * TILE
    colour[edge < GROUT] *= 0.55
    # The lamps' pools of light, and darker strips along the walls where less light reaches.
    pools = 1 + 0.12 * np.cos(2 * np.pi * (z - LAMP_SPACING) / LAMP_SPACING)
    shade = 1 - 0.3 * np.exp(-(HALF_WIDTH - np.abs(x)) / 0.35)
    return colour * (pools * shade)[:, None]


def _ceiling(x: np.ndarray, z: np.ndarray, table: np.ndarray) -> np.ndarray:
    """Off-white ceiling with a row of bright lamp panels."""
    colour = np.tile(np.array(CEILING_PAINT, np.float32), (len(x), 1)) * 0.8
    colour *= (0.95 + 0.1 * _hash(table, np.floor(x / 0.05), np.floor(z / 0.05)))[:, None]
    offset = (z - LAMP_SPACING) % LAMP_SPACING - LAMP_SPACING / 2
    lamp = (np.abs(x) < LAMP_SIZE[0] / 2) & (np.abs(offset) < LAMP_SIZE[1] / 2)
    colour[lamp] = np.array(LAMP, np.float32) * 1.3  # overexposed, as lamps are
    return colour


def _walls(x: np.ndarray, y: np.ndarray, z: np.ndarray, far: np.ndarray, table: np.ndarray,
           tint: np.ndarray) -> np.ndarray:
    """Mottled paint with the doors, board and baseboards of WALL_PAINT; some walls in shade."""
    along = np.where(far, x, z)
    colour = np.tile(np.array(WALL, np.float32) + tint, (len(x), 1))
    colour *= (0.9 + 0.2 * _smooth_hash(table, along / 0.4, y / 0.4))[:, None]
    colour *= (0.95 + 0.1 * _hash(table, np.floor(along / 0.02), np.floor(y / 0.02)))[:, None]
    wall = np.where(far, 'far', np.where(x < 0, 'left', 'right'))
    for name, start, stop, bottom, top, rgb in WALL_PAINT:
        inside = (wall == name) & (along >= start) & (along < stop) & (y >= bottom) & (y < top)
        colour[inside] = rgb
    return colour * np.where(far | (x > 0), 0.8, 1.0)[:, None]


def _light(z: np.ndarray | float) -> np.ndarray | float:
    """Return how lit things are at depth z metres: dimmer far away."""
    return 0.55 + 0.45 * np.exp(-z / 8)


def _hash(table: np.ndarray, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """Return a value in [0, 1) per integer cell (i, j), fixed by the table."""
    index = (i.astype(np.int64) * 7919 + j.astype(np.int64) * 104729) % len(table)
    return table[index]


def _smooth_hash(table: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Return value noise: cell values blended smoothly across the cells, for blotches."""
    i, j = np.floor(a), np.floor(b)
    fa, fb = a - i, b - j
    fa, fb = fa * fa * (3 - 2 * fa), fb * fb * (3 - 2 * fb)
    top = _hash(table, i, j) * (1 - fa) + _hash(table, i + 1, j) * fa
    bottom = _hash(table, i, j + 1) * (1 - fa) + _hash(table, i + 1, j + 1) * fa
    return top * (1 - fb) + bottom * fb


class _Pose(NamedTuple):
    """Where a prop is: on the floor at (x, z) metres, heading (radians from +x), path so far."""

    x: float
    z: float
    heading: float
    travelled: float


def _pose(prop: Prop, t: float) -> _Pose | None:
    """Return the pose of a prop at time t (within the period), or None when off stage."""
    times, xs, zs = np.array(prop.path).T
    if len(times) == 1:
        return _Pose(float(xs[0]), float(zs[0]), 0.0, 0.0)
    if not times[0] <= t <= times[-1]:
        return None
    step = min(int(np.searchsorted(times, t, side='right')), len(times) - 1)
    travelled = np.concatenate([[0.0], np.cumsum(np.hypot(np.diff(xs), np.diff(zs)))])
    return _Pose(float(np.interp(t, times, xs)), float(np.interp(t, times, zs)),
                 math.atan2(zs[step] - zs[step - 1], xs[step] - xs[step - 1]),
                 float(np.interp(t, times, travelled)))


def _pixels(points: np.ndarray) -> np.ndarray:
    """Return fixed-point int32 pixel coordinates for OpenCV drawing with _SUBPIXEL bits."""
    return np.round(np.clip(points, -1e6, 1e6) * 2**_SUBPIXEL).astype(np.int32)


def _colour(rgb: tuple[int, int, int], gain: float) -> tuple[float, float, float]:
    """Return an RGB colour scaled by a lighting gain, for OpenCV."""
    return tuple(min(255.0, c * gain) for c in rgb)


def _draw(image: np.ndarray, camera: _Camera, prop: Prop, pose: _Pose) -> None:
    """Draw a prop and its shadow into the image."""
    if pose.z - math.hypot(prop.size[0], prop.size[2]) / 2 < NEAR:
        return
    _shadow(image, camera, pose, 0.75 * max(prop.size[0], prop.size[2]))
    # Props come out of dark doorways: fade them in as they step away from the walls.
    light = _light(pose.z) * min(1.0, max(0.1, min((FAR_WALL - pose.z) / 2.5,
                                                   (HALF_WIDTH - abs(pose.x)) / 0.3)))
    _SHAPES[prop.shape](image, camera, prop, pose, light)


def _shadow(image: np.ndarray, camera: _Camera, pose: _Pose, radius: float) -> None:
    """Darken a soft ellipse of floor under a prop, so that it stands on the floor."""
    angles = np.linspace(0, 2 * np.pi, 24, endpoint=False)
    ground = np.stack([pose.x + radius * np.cos(angles), np.zeros_like(angles),
                       pose.z + 0.8 * radius * np.sin(angles)], axis=-1)
    outline = camera.project(ground)
    blur = max(1, int((outline[:, 1].max() - outline[:, 1].min()) / 4))
    left, top = np.floor(outline.min(axis=0)).astype(int) - 2 * blur
    right, bottom = np.ceil(outline.max(axis=0)).astype(int) + 2 * blur
    left, top = max(left, 0), max(top, 0)
    right, bottom = min(right, image.shape[1]), min(bottom, image.shape[0])
    if right <= left or bottom <= top:
        return
    mask = np.zeros((bottom - top, right - left), np.float32)
    cv2.fillPoly(mask, [_pixels(outline - (left, top))], 0.45, cv2.LINE_AA, _SUBPIXEL)
    mask = cv2.GaussianBlur(mask, (2 * blur + 1, 2 * blur + 1), 0)
    roi = image[top:bottom, left:right]
    roi[:] = roi * (1 - mask[..., None])


# Corners of a unit box (x, y, z in 0..1) and its faces: corner indices round the face (the first
# edge runs along s, the last along t of the decals) and the outward normal. No bottom: unseen.
_CORNERS = np.array([(cx, cy, cz) for cx in (0, 1) for cy in (0, 1) for cz in (0, 1)], float)
_FACES = (
    ((0, 4, 6, 2), (0, 0, -1)),  # front
    ((5, 1, 3, 7), (0, 0, 1)),  # back
    ((1, 0, 2, 3), (-1, 0, 0)),  # left
    ((4, 5, 7, 6), (1, 0, 0)),  # right
    ((2, 6, 7, 3), (0, 1, 0)),  # top
)
# A cardboard box's details in face coordinates (s, t in 0..1): packing tape over the top and
# down the front and back, a shipping label on the sides. Face index, s span, t span, RGB.
_TAPE, _LABEL = (214, 190, 140), (236, 236, 230)
_BOX_DECALS = (
    (4, (0.42, 0.58), (0.0, 1.0), _TAPE),
    (0, (0.42, 0.58), (0.78, 1.0), _TAPE),
    (1, (0.42, 0.58), (0.78, 1.0), _TAPE),
    (2, (0.15, 0.5), (0.35, 0.65), _LABEL),
    (3, (0.5, 0.85), (0.35, 0.65), _LABEL),
)


def _box(image: np.ndarray, camera: _Camera, prop: Prop, pose: _Pose, light: float) -> None:
    """Draw the faces the camera sees, each shaded by how it faces the light, with decals."""
    yaw = math.radians(prop.yaw)
    turn = np.array([[math.cos(yaw), 0, -math.sin(yaw)], [0, 1, 0],
                     [math.sin(yaw), 0, math.cos(yaw)]])
    corners = ((_CORNERS - (0.5, 0, 0.5)) * prop.size) @ turn.T + (pose.x, 0, pose.z)
    for index, (face, normal) in enumerate(_FACES):
        normal = turn @ normal
        points = corners[list(face)]
        if normal @ (_EYE - points.mean(axis=0)) <= 0:
            continue  # facing away from the camera
        gain = light * (0.45 + 0.6 * max(0.0, float(normal @ LIGHT)))
        outline = _pixels(camera.project(points))
        cv2.fillConvexPoly(image, outline, _colour(prop.colour, gain), cv2.LINE_AA, _SUBPIXEL)
        along, up = points[1] - points[0], points[3] - points[0]
        for _, (s0, s1), (t0, t1), rgb in (d for d in _BOX_DECALS if d[0] == index):
            decal = [points[0] + s * along + t * up
                     for s, t in ((s0, t0), (s1, t0), (s1, t1), (s0, t1))]
            cv2.fillConvexPoly(image, _pixels(camera.project(np.array(decal))),
                               _colour(rgb, gain), cv2.LINE_AA, _SUBPIXEL)
        cv2.polylines(image, [outline], True, _colour(prop.colour, 0.35 * light), 1,
                      cv2.LINE_AA, _SUBPIXEL)


def _ball(image: np.ndarray, camera: _Camera, prop: Prop, pose: _Pose, light: float) -> None:
    """Ray-trace a ball with a cross of stripes on it that turns as it rolls."""
    radius = prop.size[0] / 2
    centre = np.array([pose.x, radius, pose.z])
    (u, v), pixels = camera.project(centre), camera.focal * radius / pose.z
    left, top = max(int(u - 1.5 * pixels) - 1, 0), max(int(v - 1.5 * pixels) - 1, 0)
    right = min(int(u + 1.5 * pixels) + 2, image.shape[1])
    bottom = min(int(v + 1.5 * pixels) + 2, image.shape[0])
    if right <= left or bottom <= top:
        return
    rays = np.stack(np.broadcast_arrays((np.arange(left, right) - camera.cx) / camera.focal,
                                        (camera.cy - np.arange(top, bottom)[:, None])
                                        / camera.focal, 1.0), axis=-1)
    rays /= np.linalg.norm(rays, axis=-1, keepdims=True)
    offset = centre - _EYE
    distance = np.linalg.norm(offset)
    along = rays @ offset
    gap = np.sqrt(np.maximum(radius**2 - (distance**2 - along**2), 0))
    normal = (rays * (along - gap)[..., None] - offset) / radius
    # The stripes lie on two great circles through the rolling axis, turned as far as it rolled.
    forward = np.array([math.cos(pose.heading), 0, math.sin(pose.heading)])
    axis = np.cross(forward, _UP)
    roll = pose.travelled / radius
    spoke = math.cos(roll) * _UP + math.sin(roll) * forward
    stripe = (np.abs(normal @ spoke) < 0.2) | (np.abs(normal @ np.cross(axis, spoke)) < 0.2)
    colour = np.where(stripe[..., None], np.float32(_LABEL), np.float32(prop.colour))
    lit = np.maximum(normal @ LIGHT, 0)[..., None]
    colour = light * (colour * (0.35 + 0.7 * lit) + 90 * lit**12)  # diffuse and a glint
    # Coverage from the angle to the outline, in pixels: an anti-aliased edge.
    edge = (np.arcsin(radius / distance)
            - np.arccos(np.clip(along / distance, -1, 1))) * camera.focal
    cover = np.clip(edge + 0.5, 0, 1)[..., None]
    roi = image[top:bottom, left:right]
    roi[:] = np.clip(roi * (1 - cover) + colour * cover, 0, 255)


_SKIN, _HAIR, _TROUSERS, _SHOES = (222, 184, 150), (52, 36, 28), (44, 48, 62), (30, 26, 24)


def _person(image: np.ndarray, camera: _Camera, prop: Prop, pose: _Pose, light: float) -> None:
    """Draw a walking person: swinging legs and arms, a torso and a head, shaded as cylinders."""
    height, half = prop.size[1], prop.size[0] / prop.size[1] / 2
    forward = np.array([math.cos(pose.heading), 0, math.sin(pose.heading)])
    side = np.cross(_UP, forward)
    if side @ (_EYE - (pose.x, 0, pose.z)) < 0:
        side = -side  # +side is the one nearer the camera, drawn last
    stride = math.sin(2 * np.pi * pose.travelled / (1.5 * height))  # a stride per 1.5 heights

    def at(across: float, up: float, ahead: float = 0.0) -> np.ndarray:
        """Return a point of the body, in heights: across to the near side, up, ahead."""
        return (pose.x, 0, pose.z) + height * (across * side + up * _UP + ahead * forward)

    def leg_and_arm(sign: int) -> tuple:
        """Return the leg, shoe and arm of one side (sign -1: far, 1: near), swinging in turn."""
        foot = 0.2 * stride * sign
        return ((at(0.06 * sign, 0.53), at(0.06 * sign, 0.03, foot), 0.045, _TROUSERS),
                (at(0.06 * sign, 0.02, foot - 0.02), at(0.06 * sign, 0.02, foot + 0.07), 0.03,
                 _SHOES),
                (at(half * sign, 0.82), at(half * sign, 0.5, -0.7 * foot), 0.035, prop.colour))

    torso = (at(0, 0.62), at(0, 0.76), 0.85 * half, prop.colour)  # round caps: hips, shoulders
    limbs = (*leg_and_arm(-1), torso, *leg_and_arm(1))
    for start, end, radius, rgb in limbs:  # from, to, radius in heights, colour
        ends = camera.project(np.array([start, end]))
        width = 2 * camera.focal * radius * height / pose.z
        # A dark full-width stroke and a lighter narrower one towards the light: a cylinder.
        for gain, fraction, shift in ((0.55, 1.0, 0.0), (1.0, 0.55, -0.18)):
            shifted = _pixels(ends + (shift * width, 0))
            cv2.line(image, shifted[0], shifted[1], _colour(rgb, gain * light),
                     max(1, round(fraction * width)), cv2.LINE_AA, _SUBPIXEL)
    head = camera.project(at(0, 0.94))
    pixels = camera.focal * 0.065 * height / pose.z
    for rgb, offset, size in ((_HAIR, (0.0, -0.1), 1.0), (_SKIN, (-0.05, 0.12), 0.86)):
        cv2.circle(image, _pixels(head + np.array(offset) * pixels),
                   round(size * pixels * 2**_SUBPIXEL), _colour(rgb, light), -1, cv2.LINE_AA,
                   _SUBPIXEL)


_SHAPES = {'box': _box, 'ball': _ball, 'person': _person}  # Prop.shape -> how to draw it
