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
Camera frames to a normalised model clip, on the model's device, starting from uint8.

Two resize modes:
- 'full' (default) keeps the whole field of view and its aspect ratio: the frame is scaled so the
  model sees about img_size x img_size pixels, each side rounded to a multiple of the patch size.
  Every image pixel is covered by the patch grid, so heat maps map back exactly.
- 'center_crop' is the official evaluation transform: the short side is resized to
  int(img_size * 256 / 224), then the centre img_size x img_size square is cut out.
"""

from dataclasses import dataclass
import math
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from vjepa_nodes.encoder.config import IMAGENET_MEAN, IMAGENET_STD
from vjepa_nodes.perception.config import CHANNEL_ORDERS, RESIZE_MODES

# Frames beyond these are refused: a very thin frame would otherwise be stretched into a huge
# model input (1 x 300000 became 16 x 140224), and a huge one costs seconds to resize. Within
# them the model input stays near img_size x img_size (at most MAX_ASPECT:1).
MAX_ASPECT = 4.0  # longer side / shorter side
MAX_FRAME_PIXELS = 8192 * 8192


class FrameError(ValueError):
    """A camera frame that cannot be used: wrong type, dtype, shape or channel count."""


@dataclass(frozen=True)
class ClipGeometry:
    """Where the model's input sits in the camera image, in source pixels."""

    source_size: tuple[int, int]  # camera (height, width)
    input_size: tuple[int, int]  # (height, width) fed to the encoder
    crop: tuple[int, int, int, int]  # (top, left, height, width) of the source that is seen
    resize: tuple[int, int]  # (height, width) the frame is resized to before cropping
    offset: tuple[int, int] = (0, 0)  # (top, left) of the model input in the resized frame


def check_frame(frame: object) -> np.ndarray:
    """Return `frame` if it is an H x W x 3 uint8 array; raise FrameError saying what is wrong."""
    if not isinstance(frame, np.ndarray):
        raise FrameError(f'frame must be a numpy array, got {type(frame).__name__}')
    if frame.dtype != np.uint8:
        raise FrameError(f'frame must be uint8, got {frame.dtype}')
    if frame.ndim != 3 or frame.shape[2] != 3:
        raise FrameError(f'frame must be H x W x 3 (RGB or BGR), got shape {frame.shape}')
    height, width = frame.shape[:2]
    if height == 0 or width == 0:
        raise FrameError(f'frame is empty: shape {frame.shape}')
    if max(height, width) > MAX_ASPECT * min(height, width):
        raise FrameError(f'frame of {width}x{height} pixels is too thin: the longer side may be '
                         f'at most {MAX_ASPECT:g} times the shorter')
    if height * width > MAX_FRAME_PIXELS:
        raise FrameError(f'frame of {width}x{height} pixels is too large: at most '
                         f'{MAX_FRAME_PIXELS} pixels')
    return frame


def clip_geometry(source_size: tuple[int, int], img_size: int, resize_mode: str,
                  patch_size: int = 16) -> ClipGeometry:
    """Return the model input size and visible source region for a camera size."""
    height, width = source_size
    if resize_mode == 'full':
        scale = img_size / math.sqrt(height * width)
        # At least 3 patch columns: the motion regions are the grid's thirds.
        fit = (max(patch_size, round(height * scale / patch_size) * patch_size),
               max(3 * patch_size, round(width * scale / patch_size) * patch_size))
        return ClipGeometry(source_size, fit, (0, 0, height, width), fit)
    if resize_mode == 'center_crop':
        short = int(img_size * 256 / 224)
        resize = ((short, int(short * width / height)) if height <= width
                  else (int(short * height / width), short))
        top, left = (int(round((side - img_size) / 2)) for side in resize)  # as torchvision
        scale_y, scale_x = height / resize[0], width / resize[1]
        seen_top, seen_left = round(top * scale_y), round(left * scale_x)
        seen_bottom = min(height, round((top + img_size) * scale_y))
        seen_right = min(width, round((left + img_size) * scale_x))
        crop = (seen_top, seen_left, seen_bottom - seen_top, seen_right - seen_left)
        return ClipGeometry(source_size, (img_size, img_size), crop, resize, (top, left))
    raise ValueError(f'unknown resize_mode {resize_mode!r}; choose one of {RESIZE_MODES}')


class Preprocessor:
    """
    Turn T uint8 frames into a normalised (1, 3, T, h, w) clip on `device` in `dtype`.

    Consecutive clips overlap (stride < num_frames), so each frame is uploaded and resized once:
    the processed frames of the previous clip are kept on the device and reused when the same
    frame objects come back (ClipBuffer hands out the frames it stores, so identity is enough:
    callers must not write into a frame once it has been passed in).
    Frames stored with `host_copy` sit in pinned memory on CUDA, so their upload is an
    asynchronous copy with no staging step.
    """

    def __init__(self, img_size: int, resize_mode: str, device: torch.device,
                 dtype: torch.dtype, patch_size: int = 16) -> None:
        clip_geometry((img_size, img_size), img_size, resize_mode, patch_size)  # validates mode
        if resize_mode == 'center_crop' and img_size < 3 * patch_size:
            raise ValueError(
                f'img_size must be >= {3 * patch_size} for center_crop, got {img_size}')
        self.img_size, self.resize_mode, self.patch_size = img_size, resize_mode, patch_size
        self.device, self.dtype = device, dtype
        self._mean = torch.tensor(IMAGENET_MEAN, device=device).view(1, 3, 1, 1)
        self._std = torch.tensor(IMAGENET_STD, device=device).view(1, 3, 1, 1)
        # id(frame) -> (frame, channel order, processed (3, h, w)); the frame is held so that
        # its id cannot be reused by another array while the entry exists.
        self._processed: dict[int, tuple[np.ndarray, str, torch.Tensor]] = {}
        self.uploaded_frames = 0  # frames processed so far; reused frames are not counted

    def __call__(self, frames: Sequence[np.ndarray],
                 channel_order: str = 'rgb') -> tuple[torch.Tensor, ClipGeometry]:
        if channel_order not in CHANNEL_ORDERS:
            raise ValueError(
                f'unknown channel_order {channel_order!r}; choose one of {CHANNEL_ORDERS}')
        geometry = clip_geometry(frames[0].shape[:2], self.img_size, self.resize_mode,
                                 self.patch_size)
        known = {key: entry for key, entry in self._processed.items()
                 if entry[1] == channel_order and entry[2].shape[1:] == geometry.input_size}
        new = [frame for frame in frames if id(frame) not in known]
        if new:
            processed = self._process(new, geometry, channel_order).unbind(0)
            self.uploaded_frames += len(new)
            known.update((id(frame), (frame, channel_order, pixels))
                         for frame, pixels in zip(new, processed))
        self._processed = {id(frame): known[id(frame)] for frame in frames}
        clip = torch.stack([known[id(frame)][2] for frame in frames], dim=1)
        return clip.unsqueeze(0), geometry

    def _process(self, frames: Sequence[np.ndarray], geometry: ClipGeometry,
                 channel_order: str) -> torch.Tensor:
        """Upload uint8 frames (4x less traffic than float), resize and normalise on device."""
        pixels = self._upload(frames).permute(0, 3, 1, 2).float().div_(255.0)  # (T, 3, H, W)
        if channel_order == 'bgr':
            pixels = pixels.flip(1)
        pixels = F.interpolate(pixels, size=geometry.resize, mode='bilinear',
                               align_corners=False, antialias=True)
        (top, left), (height, width) = geometry.offset, geometry.input_size
        pixels = pixels[..., top:top + height, left:left + width]
        return ((pixels - self._mean) / self._std).to(self.dtype)

    def host_copy(self, frame: np.ndarray) -> np.ndarray:
        """Return a copy of `frame` to keep until it is uploaded: pinned memory on CUDA."""
        if self.device.type != 'cuda':
            return frame.copy()
        # The caching host allocator makes this cheap after the first frames; the numpy view
        # keeps the pinned block alive for as long as the frame is kept.
        pinned = torch.empty(frame.shape, dtype=torch.uint8, pin_memory=True).numpy()
        np.copyto(pinned, frame)
        return pinned

    def _upload(self, frames: Sequence[np.ndarray]) -> torch.Tensor:
        # Copies from pinned frames run asynchronously. The frames stay referenced (the clip
        # buffer, self._processed) and ObstacleDetector.detect() waits for the device before it
        # returns (the heat map comes back to the host), so no copy outlives its source.
        return torch.stack([torch.from_numpy(np.ascontiguousarray(frame)).to(
            self.device, non_blocking=True) for frame in frames])


def activation_to_heatmap(token_map: torch.Tensor, geometry: ClipGeometry) -> np.ndarray:
    """Upsample an (h, w) patch-grid map to the camera image; pixels the model missed are 0."""
    top, left, height, width = geometry.crop
    resized = F.interpolate(token_map[None, None].float(), size=(height, width),
                            mode='bilinear', align_corners=False)[0, 0]
    image = np.zeros(geometry.source_size, dtype=np.float32)
    image[top:top + height, left:left + width] = resized.cpu().numpy()
    return image
