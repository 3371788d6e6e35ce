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

"""ObstacleDetector: camera frames in, motion scores, regions, heat map and obstacle flag out."""

from contextlib import contextmanager
import dataclasses
from dataclasses import dataclass, field
import logging
import time
from typing import Iterator

import numpy as np
import torch

from vjepa_nodes.backend_choice import choose_backend, Platform
from vjepa_nodes.device import synchronize
from vjepa_nodes.encoder.config import get_encoder_config
from vjepa_nodes.encoder.fast_path import resolve_fast_path
from vjepa_nodes.encoder.vit import clip_token_grid
from vjepa_nodes.perception.backends import build_backend, compute_of, resolve_compute
from vjepa_nodes.perception.camera_stream import BatchTimeline, CameraStream, DetectionResult
from vjepa_nodes.perception.clip_buffer import BufferCounters, Clip, FrameStatus, PhaseClock
from vjepa_nodes.perception.config import DetectorConfig
from vjepa_nodes.perception.surprise_setup import build_surprise
from vjepa_nodes.settings import fixed_changes

_logger = logging.getLogger('vjepa_nodes')


@dataclass
class Detections:
    """What one `detect_all` call produced, by camera."""

    results: dict[str, DetectionResult] = field(default_factory=dict)
    failures: dict[str, Exception] = field(default_factory=dict)  # clips whose batch failed


@contextmanager
def _reported(detections: Detections, streams: list[CameraStream]) -> Iterator[None]:
    """Record an error as the failure of `streams`' clips, so that other cameras go on."""
    try:
        yield
    except Exception as error:  # noqa: B902 - any fault of one clip or batch
        detections.failures.update((stream.name, error) for stream in streams)


class ObstacleDetector:
    """
    Buffer frames into clips, encode them with V-JEPA 2 (config.backend), score clip changes.

    One model serves every camera in config.cameras (none named: one camera, named ''). Each
    camera has its own clips, reference clip, obstacle flag and results; clips of several
    cameras that are ready together are encoded in one batch. `add_frame` is cheap (it stores
    the frame); `detect_all` (`detect` for one camera) does the work.
    """

    def __init__(self, model_size: str | None = None, *, config: DetectorConfig | None = None,
                 **overrides) -> None:
        """Build from `config`, or from DetectorConfig(model_size, **overrides); not both."""
        if config is not None and (model_size is not None or overrides):
            raise TypeError('pass either config or model_size/keyword settings, not both')
        if config is None:
            config = DetectorConfig(**overrides, **({} if model_size is None
                                                    else {'model_size': model_size}))
        cfg = self.config = config
        encoder_config = get_encoder_config(cfg.model_size, cfg.model_version)
        clip_token_grid(encoder_config, (1, 3, cfg.num_frames, cfg.img_size, cfg.img_size))
        # Everything cheap is built (and so validated) before the encoder loads its weights.
        self.backend_choice = choose_backend(
            cfg.backend, Platform.probe() if cfg.backend == 'auto' else None, cfg.surprise)
        _logger.info(f'backend {self.backend_choice.backend}: {self.backend_choice.reason}')
        chosen = dataclasses.replace(cfg, backend=self.backend_choice.backend)
        self.device, self.dtype = resolve_compute(chosen)
        if chosen.backend != 'mlx':  # MLX checks its own fast path (mlx_backend)
            resolve_fast_path(cfg.fast_path, self.device)  # refuse an impossible one now
        names = cfg.cameras or ('',)
        clock = PhaseClock()
        self.streams = {name: CameraStream(name, cfg, self.device, self.dtype,
                                           encoder_config.patch_size, (index, len(names)), clock)
                        for index, name in enumerate(names)}
        self.backend = build_backend(chosen, self.device, self.dtype)
        self.surprise = build_surprise(cfg, self.backend) if cfg.surprise else None
        self._next_camera = 0  # where the next batch starts looking, so that no camera starves
        self._prepared_shapes: set[tuple[int, ...]] = set()  # see _prepare_batch_sizes

    @property
    def compute(self) -> tuple[str, str]:
        """Return where the encoder runs and in which precision, for logs and diagnostics."""
        return compute_of(self.backend, self.device, self.dtype)

    def add_frame(self, frame: np.ndarray, stamp: float | None = None,
                  camera: str = '') -> FrameStatus:
        """
        Buffer an H x W x 3 uint8 frame (config.channel_order) of `camera`, taken at `stamp` s.

        Without a stamp the arrival time is used. A bad frame raises FrameError (a non-finite
        stamp ValueError) and changes nothing; a size change or a gap restarts that camera's
        clip (see ClipBuffer). May be called from another thread than `detect_all`.
        """
        return self.camera(camera).add_frame(frame, stamp)

    def clip_ready(self) -> bool:
        """Return whether some camera has a clip for `detect_all`."""
        return any(stream.buffer.clip_ready for stream in self.streams.values())

    def detect_all(self) -> Detections:
        """
        Analyse the newest ready clip of each camera, up to config.max_batch of them at once.

        Cameras take turns when more are ready than fit: those left out come first next time,
        with their newest clip. A failed batch fails its cameras only, in `failures`.
        """
        detections = Detections()
        started = time.monotonic()
        prepared: dict[tuple[int, ...], list] = {}  # clip shape -> [(stream, clip, pixels, ...)]
        for stream, clip in self._take_clips():
            with _reported(detections, [stream]):
                pixels, geometry = stream.preprocess(clip.frames, self.config.channel_order)
                prepared.setdefault(tuple(pixels.shape), []).append(
                    (stream, clip, pixels, geometry))
        for shape, group in prepared.items():
            with _reported(detections, [stream for stream, *_ in group]):
                grid = clip_token_grid(self.backend.encoder_config, shape)
                for batch in self._batches(group):
                    self._score_batch(batch, grid, started, detections)
        return detections

    def _score_batch(self, batch: list, grid: tuple[int, int, int], started: float,
                     detections: Detections) -> None:
        """Encode one batch of same-shape clips and score each; failures go to `detections`."""
        with _reported(detections, [stream for stream, *_ in batch]):
            encoding = time.monotonic()
            clips = torch.cat([pixels for _, _, pixels, _ in batch])
            tokens = self._encode(clips)
            errors = self.surprise.errors(clips, tokens, grid) if self.surprise else None
            synchronize(tokens.device)  # time the model's work, not its launch
            timeline = BatchTimeline(started, encoding, time.monotonic())
            for index, (stream, clip, _, geometry) in enumerate(batch):
                # A copy: a camera keeps its tokens as the next reference, and a view would
                # keep the whole batch alive with them.
                own = tokens if len(tokens) == 1 else tokens[index:index + 1].clone()
                with _reported(detections, [stream]):
                    detections.results[stream.name] = stream.result(
                        clip, geometry, own, grid, timeline,
                        None if errors is None else errors[index], self._surprise_baseline())

    def _surprise_baseline(self) -> float:
        return self.surprise.resolve_baseline(self.config.scoring.surprise_baseline) if (
            self.surprise) else 0.0

    def detect(self) -> DetectionResult | None:
        """Analyse the only camera's newest ready clip; None if none is ready."""
        only = self._only()
        detections = self.detect_all()
        for error in detections.failures.values():
            raise error
        return detections.results.get(only.name)

    def _take_clips(self) -> list[tuple[CameraStream, Clip]]:
        streams = list(self.streams.values())
        taken, resume_at = [], self._next_camera
        for offset in range(len(streams)):
            if len(taken) == self.config.max_batch:
                break
            index = (self._next_camera + offset) % len(streams)
            clip = streams[index].buffer.take_clip()
            if clip is not None:
                taken.append((streams[index], clip))
                resume_at = (index + 1) % len(streams)
        self._next_camera = resume_at
        return taken

    def _batches(self, group: list) -> list[list]:
        """Split clips of one shape into the batches the backend takes."""
        size = min(self.config.max_batch, self.backend.batch_limit or self.config.max_batch)
        return [group[start:start + size] for start in range(0, len(group), size)]

    def _encode(self, clips: torch.Tensor) -> torch.Tensor:
        """Encode clips (B, 3, T, H, W) together; pad to a power of two where sizes cost."""
        count = len(clips)
        padded = count
        if self.backend.batch_limit is not None:
            padded = self.backend.batch_limit
        elif self.backend.pads_batches:
            padded = self._padded(count)
            self._prepare_batch_sizes(clips[:1])
        if padded > count:
            clips = torch.cat([clips, clips[-1:].expand(padded - count, *clips.shape[1:])])
        return self.backend(clips)[:count]

    def _padded(self, count: int) -> int:
        return min(1 << (count - 1).bit_length(), self.config.max_batch)

    def _prepare_batch_sizes(self, clip: torch.Tensor) -> None:
        """
        At the first clip of a shape, prepare every batch size these cameras can send.

        Compilation or graph capture then happens once, with the first clip, instead of in
        the middle of a run when a new number of cameras happens to be ready together.
        """
        shape = tuple(clip.shape[1:])
        if shape in self._prepared_shapes:
            return
        self._prepared_shapes.add(shape)
        most = min(len(self.cameras), self.config.max_batch)
        for size in sorted({self._padded(count) for count in range(2, most + 1)}):
            self.backend(torch.cat([clip] * size))

    def update_config(self, config: DetectorConfig) -> None:
        """
        Take new run-time settings (those marked `runtime`) while the model stays loaded.

        `config` was validated when it was made; raises ValueError, changing nothing, if a
        setting that needs a new detector (model, input size, device, cameras ...) differs.
        """
        fixed = fixed_changes(self.config, config)
        if fixed:
            raise ValueError(f'{", ".join(fixed)} cannot change while running: build a new '
                             'detector (the node: cleanup, then configure)')
        if self.surprise:
            self.surprise.resolve_baseline(config.scoring.surprise_baseline)
        for stream in self.streams.values():
            stream.update_config(config)
        self.config = config

    def reset(self, camera: str | None = None) -> None:
        """Forget frames, reference clips, obstacle flags and results: of `camera`, or all."""
        for stream in ([self.camera(camera)] if camera is not None
                       else self.streams.values()):
            stream.reset()

    @property
    def cameras(self) -> tuple[str, ...]:
        """Return the camera names, in order ('' for the one camera of an unnamed detector)."""
        return tuple(self.streams)

    def camera(self, name: str = '') -> CameraStream:
        """Return a camera's stream (its buffer, counters, freeze monitor, latest result)."""
        if name not in self.streams:
            known = ', '.join(repr(camera) for camera in self.cameras)
            raise ValueError(f'unknown camera {name!r}; this detector has {known}')
        return self.streams[name]

    @property
    def counters(self) -> BufferCounters:
        """Return the frame counters of the only camera (else: camera(name))."""
        return self._only().buffer.counters

    @property
    def latest(self) -> DetectionResult | None:
        """Return the newest result of the only camera (else: camera(name).latest)."""
        return self._only().latest

    def detect_obstacles(self) -> tuple[torch.Tensor | None, float]:
        """
        Analyse a ready clip, then return (features, motion_score) of the newest result.

        Before the first result: (None, 0.0). Without a new clip: the previous result again.
        """
        self.detect()
        if self.latest is None:
            return None, 0.0
        return self.latest.features, self.latest.motion_score

    def _only(self) -> CameraStream:
        if len(self.cameras) > 1:
            raise ValueError(f'this detector has {len(self.cameras)} cameras: name one '
                             '(camera(name), detect_all())')
        return self.streams[self.cameras[0]]
