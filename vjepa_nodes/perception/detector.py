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

from dataclasses import dataclass
import time

import numpy as np
import torch

from vjepa_nodes.device import resolve_device_and_precision
from vjepa_nodes.encoder.config import get_encoder_config
from vjepa_nodes.encoder.fast_path import resolve_fast_path
from vjepa_nodes.encoder.vit import clip_token_grid
from vjepa_nodes.freshness import FreezeMonitor
from vjepa_nodes.perception.backends import backend_dtype, build_backend
from vjepa_nodes.perception.clip_buffer import BufferCounters, ClipBuffer, FrameStatus
from vjepa_nodes.perception.config import DetectorConfig
from vjepa_nodes.perception.preprocessing import (
    activation_to_heatmap, check_frame, ClipGeometry, Preprocessor)
from vjepa_nodes.perception.scoring import MotionScorer, ObstacleDecision
from vjepa_nodes.settings import fixed_changes


@dataclass(frozen=True)
class DetectionResult:
    """One analysed clip."""

    motion_score: float  # 0..1: fraction of the view that changed since the previous clip
    region_scores: dict[str, float]  # 'left', 'center', 'right'
    motion_map: np.ndarray  # (h, w) patch-grid activation
    heatmap: np.ndarray  # float32, the camera image's height x width
    obstacle: bool
    has_reference: bool  # False: first clip after a (re)start, or features not finite: no evidence
    features_finite: bool  # False: the encoder produced inf/NaN (e.g. fp16 overflow)
    features: torch.Tensor  # encoder tokens (1, N, D), on the model's device
    clip_start: float  # stamps (s) of the first and last frame
    clip_end: float
    latency: float  # seconds spent in detect(): preprocessing, encoder, scoring
    geometry: ClipGeometry
    last_frame: np.ndarray  # the clip's newest frame, for overlays
    problem: str = ''  # why the result must not be acted on ('' = usable), e.g. a frozen camera

    @property
    def time_span(self) -> float:
        return self.clip_end - self.clip_start


class ObstacleDetector:
    """
    Buffer frames into clips, encode them with V-JEPA 2 (config.backend), score clip changes.

    `add_frame` is cheap (it stores the frame); `detect` does the work for the newest clip.
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
        self.buffer = ClipBuffer(cfg.num_frames, cfg.stride, cfg.max_gap)
        self.device, dtype = resolve_device_and_precision(cfg.device, cfg.precision)
        self.dtype = backend_dtype(cfg, dtype)
        resolve_fast_path(cfg.fast_path, self.device)  # refuse an impossible one before loading
        self.preprocess = Preprocessor(cfg.img_size, cfg.resize_mode, self.device, self.dtype,
                                       encoder_config.patch_size)
        self.scorer = MotionScorer(cfg.scoring)
        self.decision = ObstacleDecision(cfg.decision)
        self.backend = build_backend(cfg, self.device, self.dtype)
        self.freeze = FreezeMonitor()
        self.latest: DetectionResult | None = None
        self._scored_epoch: int | None = None

    @property
    def counters(self) -> BufferCounters:
        return self.buffer.counters

    def add_frame(self, frame: np.ndarray, stamp: float | None = None) -> FrameStatus:
        """
        Buffer an H x W x 3 uint8 frame (config.channel_order) taken at `stamp` seconds.

        Without a stamp the arrival time is used. A bad frame raises FrameError (a non-finite
        stamp ValueError) and changes nothing; a size change or a gap restarts the clip (see
        ClipBuffer). May be called from another thread than `detect`.
        """
        check_frame(frame)
        stamp = time.monotonic() if stamp is None else stamp
        status = self.buffer.add(self.preprocess.host_copy(frame), stamp, copy=False)
        self.freeze.update(frame, stamp)
        return status

    def detect(self) -> DetectionResult | None:
        """Analyse the newest ready clip; None if no new clip is ready."""
        clip = self.buffer.take_clip()
        if clip is None:
            return None
        if clip.epoch != self._scored_epoch:  # never compare or debounce across a restart
            self.scorer.reset()
            self.decision.restart_debounce()
            self._scored_epoch = clip.epoch
        start = time.perf_counter()
        pixels, geometry = self.preprocess(clip.frames, self.config.channel_order)
        tokens = self.backend(pixels)
        grid = clip_token_grid(self.backend.encoder_config, pixels.shape)
        motion = self.scorer.score(tokens, grid)
        obstacle = (self.decision.update(motion.motion_score) if motion.has_reference
                    else self.decision.obstacle)
        self.latest = DetectionResult(
            motion_score=motion.motion_score, region_scores=motion.region_scores,
            motion_map=motion.activation.cpu().numpy(),
            heatmap=activation_to_heatmap(motion.activation, geometry), obstacle=obstacle,
            has_reference=motion.has_reference, features_finite=motion.features_finite,
            features=tokens, clip_start=clip.stamps[0],
            clip_end=clip.stamps[-1], latency=time.perf_counter() - start, geometry=geometry,
            last_frame=clip.frames[-1], problem=self.freeze.problem(self.config.frozen_after))
        return self.latest

    def update_config(self, config: DetectorConfig) -> None:
        """
        Take new run-time settings (those marked `runtime`) while the model stays loaded.

        `config` was validated when it was made; raises ValueError, changing nothing, if a
        setting that needs a new detector (model, input size, device, ...) differs.
        """
        fixed = fixed_changes(self.config, config)
        if fixed:
            raise ValueError(f'{", ".join(fixed)} cannot change while running: build a new '
                             'detector (the node: cleanup, then configure)')
        self.buffer.stride = config.stride
        self.scorer.config = config.scoring
        self.decision.config = config.decision
        self.config = config

    def reset(self) -> None:
        """Forget frames, the reference clip, the obstacle flag and the latest result."""
        self.buffer.reset()
        self.decision.reset()
        self.freeze.reset()
        self.latest = None

    def detect_obstacles(self) -> tuple[torch.Tensor | None, float]:
        """
        Analyse a ready clip, then return (features, motion_score) of the newest result.

        Before the first result: (None, 0.0). Without a new clip: the previous result again.
        """
        self.detect()
        if self.latest is None:
            return None, 0.0
        return self.latest.features, self.latest.motion_score
