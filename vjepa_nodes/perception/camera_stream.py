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

"""One camera's share of an ObstacleDetector: its frames, reference clip, decision and result."""

from dataclasses import dataclass, field
from functools import cached_property
import time

import numpy as np
import torch

from vjepa_nodes.freshness import FreezeMonitor
from vjepa_nodes.perception.clip_buffer import Clip, ClipBuffer, FrameStatus, PhaseClock
from vjepa_nodes.perception.config import DetectorConfig
from vjepa_nodes.perception.preprocessing import (
    activation_to_heatmap, check_frame, ClipGeometry, Preprocessor)
from vjepa_nodes.perception.scoring import MotionMap, MotionScorer, ObstacleDecision
from vjepa_nodes.perception.surprise import score_surprise, SurpriseMap


STAGES = ('wait', 'preprocess', 'encode', 'score')  # see DetectionResult.stages


@dataclass(frozen=True)
class BatchTimeline:
    """When (time.monotonic()) a detect_all call started, and its batch's model began and ended."""

    started: float
    encoding: float
    encoded: float  # the encoder's (and predictor's) output is ready


@dataclass(frozen=True)
class DetectionResult:
    """One analysed clip of one camera."""

    motion_score: float  # 0..1: fraction of the view that changed since the previous clip
    # 'left', 'center', 'right' of the score source (config.score_source): what to act on
    region_scores: dict[str, float]
    motion_map: np.ndarray  # (h, w) patch-grid activation
    obstacle: bool
    has_reference: bool  # False: first clip after a (re)start, or features not finite: no evidence
    features_finite: bool  # False: the encoder produced inf/NaN (e.g. fp16 overflow)
    features: torch.Tensor  # encoder tokens (1, N, D), on the model's device
    clip_start: float  # stamps (s) of the first and last frame
    clip_end: float
    latency: float  # seconds from the start of the detect_all call to its scores
    geometry: ClipGeometry
    last_frame: np.ndarray  # the clip's newest frame, for overlays
    problem: str = ''  # why the result must not be acted on ('' = usable), e.g. a frozen camera
    camera: str = ''  # the camera's name ('' for a detector's only, unnamed camera)
    score: float = 0.0  # overall score of the score source, which the obstacle flag follows
    motion_regions: dict[str, float] | None = None  # the motion score's own regions
    motion_reference: bool = False  # the motion score had a previous clip: it is evidence
    # With surprise on (else None): scores and (h, w) activation.
    surprise_score: float | None = None
    surprise_regions: dict[str, float] | None = None
    surprise_map: np.ndarray | None = None
    # Seconds of each of STAGES, back to back from the newest frame's arrival to the result:
    # wait (stored -> detect_all starts), preprocess (-> the batch's model starts; every clip
    # of the call is prepared first), encode (encoder and predictor, the batch's), score
    # (-> this camera's result; the batch's cameras are scored in turn).
    stages: dict[str, float] = field(default_factory=dict)

    @property
    def time_span(self) -> float:
        return self.clip_end - self.clip_start

    # Image-sized heat maps are made when first asked for, so that they cost the decision
    # nothing: the node publishes every camera's decision before any camera's images.
    @cached_property
    def heatmap(self) -> np.ndarray:
        """Return the motion map on the camera image (float32, its height x width)."""
        return activation_to_heatmap(torch.from_numpy(self.motion_map), self.geometry)

    @cached_property
    def surprise_heatmap(self) -> np.ndarray | None:
        """Return the surprise map on the camera image with surprise on, else None."""
        return None if self.surprise_map is None else activation_to_heatmap(
            torch.from_numpy(self.surprise_map), self.geometry)


class CameraStream:
    """
    Buffer one camera's frames into clips and turn its clips' tokens into results.

    The model is the detector's, shared by every camera; all else here is this camera's own, so
    cameras never compare, debounce or restart across each other.
    """

    def __init__(self, name: str, config: DetectorConfig, device: torch.device,
                 dtype: torch.dtype, patch_size: int, place: tuple[int, int] = (0, 1),
                 clock: PhaseClock | None = None) -> None:
        """
        `place`: (index, count) of this camera among the detector's, for its clip phase.

        `clock`: the detector's, shared by its cameras, from which staggered ones count phases.
        """
        self.name, self.config, self.place = name, config, place
        # Only staggered cameras keep to a grid: a lone camera's next clip is simply due a
        # stride after the last one taken, however late that was.
        staggered = config.stagger_clips and place[1] > 1
        self.buffer = ClipBuffer(config.num_frames, config.stride, config.max_gap,
                                 self._phase(config), grid=staggered,
                                 clock=clock if staggered else None)
        self.preprocess = Preprocessor(config.img_size, config.resize_mode, device, dtype,
                                       patch_size)
        self.scorer = MotionScorer(config.scoring)
        self.decision = ObstacleDecision(config.decision)
        self.freeze = FreezeMonitor()
        self.latest: DetectionResult | None = None
        self._scored_epoch: int | None = None

    def add_frame(self, frame: np.ndarray, stamp: float | None = None) -> FrameStatus:
        """See ObstacleDetector.add_frame."""
        check_frame(frame)
        stamp = time.monotonic() if stamp is None else stamp
        kept = self.preprocess.host_copy(frame)  # contiguous: no second copy for the checksum
        status = self.buffer.add(kept, stamp, copy=False)
        self.freeze.update(kept, stamp)
        return status

    def result(self, clip: Clip, geometry: ClipGeometry, tokens: torch.Tensor,
               grid: tuple[int, int, int], timeline: BatchTimeline,
               surprise_error: torch.Tensor | None = None,
               surprise_baseline: float = 0.0) -> DetectionResult:
        """
        Score a clip's tokens (1, N, D) against this camera's previous clip.

        With surprise on, `surprise_error` is the clip's (h, w) prediction error map.
        """
        if clip.epoch != self._scored_epoch:  # never compare or debounce across a restart
            self.scorer.reset()
            self.decision.restart_debounce()
            self._scored_epoch = clip.epoch
        motion = self.scorer.score(tokens, grid)
        surprise = None if surprise_error is None else score_surprise(
            surprise_error, surprise_baseline, self.config.scoring.surprise_scale)
        score, regions, evidence = self._acted_on(motion, surprise)
        obstacle = self.decision.update(score) if evidence else self.decision.obstacle
        surprise_fields = {} if surprise is None else {
            'surprise_score': surprise.surprise_score,
            'surprise_regions': surprise.region_scores,
            'surprise_map': surprise.activation.cpu().numpy()}
        motion_map = motion.activation.cpu().numpy()
        done = time.monotonic()
        self.latest = DetectionResult(
            motion_score=motion.motion_score, region_scores=regions, motion_map=motion_map,
            obstacle=obstacle, has_reference=evidence,
            features_finite=motion.features_finite and (surprise is None or surprise.finite),
            features=tokens, clip_start=clip.stamps[0], clip_end=clip.stamps[-1],
            latency=done - timeline.started, stages=_stages(clip, timeline, done),
            geometry=geometry,
            last_frame=clip.frames[-1], problem=self.freeze.problem(self.config.frozen_after),
            camera=self.name, score=score, motion_regions=motion.region_scores,
            motion_reference=motion.has_reference, **surprise_fields)
        return self.latest

    def _acted_on(self, motion: MotionMap, surprise: SurpriseMap | None,
                  ) -> tuple[float, dict[str, float], bool]:
        """Return (score, region scores, whether they are evidence) of the score source."""
        source = self.config.score_source
        if source == 'motion' or surprise is None:
            return motion.motion_score, motion.region_scores, motion.has_reference
        if source == 'surprise':  # needs no previous clip
            return surprise.surprise_score, surprise.region_scores, surprise.finite
        regions = {name: max(motion.region_scores[name], surprise.region_scores[name])
                   for name in motion.region_scores}
        return (max(motion.motion_score, surprise.surprise_score), regions,
                motion.has_reference and surprise.finite)

    def update_config(self, config: DetectorConfig) -> None:
        """Take run-time settings (checked by the detector)."""
        self.buffer.retime(config.stride, self._phase(config))
        self.scorer.config = config.scoring
        self.decision.config = config.decision
        self.config = config

    def _phase(self, config: DetectorConfig) -> int:
        """Return this camera's clip phase: the frames it trails the first (stagger_clips)."""
        index, count = self.place
        return index * config.stride // count if config.stagger_clips else 0

    def reset(self) -> None:
        """Forget frames, the reference clip, the obstacle flag and the latest result."""
        self.buffer.reset()
        self.decision.reset()
        self.freeze.reset()
        self.latest = None


def _stages(clip: Clip, timeline: BatchTimeline, done: float) -> dict[str, float]:
    """Return the seconds of STAGES of `clip`, whose result was ready at `done`."""
    marks = (clip.received, timeline.started, timeline.encoding, timeline.encoded, done)
    return {stage: end - start for stage, start, end in zip(STAGES, marks, marks[1:])}
