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
The detector's settings as data: DetectorConfig and the scoring and decision configs in it.

The single home of their defaults, limits and choices. It imports no torch, so launch files,
documentation tools and light nodes can read it.
"""

from dataclasses import dataclass, field

from vjepa_nodes.encoder.config import (
    BACKENDS, CHECKPOINT_KEYS, FAST_PATHS, get_encoder_config, MODEL_VERSIONS,
    PRECISION_CHOICES)
from vjepa_nodes.settings import check_settings, names_setting, setting

REGIONS = ('left', 'center', 'right')  # thirds of the view, left to right
RESIZE_MODES = ('full', 'center_crop')
# What the obstacle flag, the region scores and the avoidance rule act on; max: the higher of
# the two, region by region.
SCORE_SOURCES = ('motion', 'surprise', 'max')
CHANNEL_ORDERS = ('rgb', 'bgr')
MAX_CAMERAS = 16
# Every size of every version, in order of appearance; the pair is checked by get_encoder_config.
MODEL_SIZES = tuple(dict.fromkeys(size for configs in MODEL_VERSIONS.values() for size in configs))


@dataclass(frozen=True)
class ScoringConfig:
    """How feature change becomes a score (see the module docstring)."""

    change_scale: float = setting(
        0.02, 'feature change that counts as clearly changed (soft threshold)', low=1e-4,
        high=1.0, runtime=True)
    common_mode_gain: float = setting(
        2.5, 'multiple of the frame-wide change removed as lighting/ego-motion', low=0.0,
        high=10.0, runtime=True)
    ego_motion_compensation: bool = setting(
        False, 'remove the median frame-wide change (camera on a moving robot)', runtime=True)
    surprise_baseline: float = setting(
        0.0, "prediction error of an ordinary clip, not surprising (0: the predictor's own, "
        'measured on held-out clips by vjepa-train-predictor)', low=0.0, high=10.0,
        runtime=True)
    surprise_scale: float = setting(
        0.05, 'prediction error above the baseline that counts as clearly surprising',
        low=1e-4, high=10.0, runtime=True)

    def __post_init__(self) -> None:
        check_settings(self)

    @property
    def common_mode_quantile(self) -> float:
        # The 25th percentile only measures change shared by >= 75% of the view (lighting); the
        # median also catches a moving camera's frame-wide change, and with it very large objects.
        return 0.5 if self.ego_motion_compensation else 0.25


@dataclass(frozen=True)
class DecisionConfig:
    """Obstacle flag with hysteresis: on at >= on_threshold, off below off_threshold."""

    on_threshold: float = setting(0.10, 'score (of score_source) at which the obstacle flag '
                                  'turns on', low=0.0, high=1.0, runtime=True)
    off_threshold: float = setting(0.05, 'score below which it turns off', low=0.0,
                                   high=1.0, runtime=True)
    debounce_clips: int = setting(2, 'consecutive clips needed to switch the flag', low=1,
                                  high=100, runtime=True)

    def __post_init__(self) -> None:
        check_settings(self)
        if not self.off_threshold <= self.on_threshold:
            raise ValueError('thresholds must satisfy off_threshold <= on_threshold, '
                             f'got off={self.off_threshold}, on={self.on_threshold}')


@dataclass(frozen=True)
class DetectorConfig:
    """
    Everything an ObstacleDetector is built from; the single home of these defaults.

    Settings without `runtime` need a new detector (the node: cleanup + configure) to change.
    """

    cameras: tuple[str, ...] = names_setting(
        'camera names, one model for all; each has its topics under its name (front: '
        'front/image -> front/motion_score, ...); empty: one camera on image -> motion_score',
        MAX_CAMERAS)
    max_batch: int = setting(8, 'most clips encoded in one batch (clips of different cameras '
                             'ready at the same time share one)', low=1, high=64)
    stagger_clips: bool = setting(
        True, 'several cameras: camera k of n finishes its clips k*stride/n frames after the '
        'first (frames counted by stamp on one clock for all cameras), so cameras whose frames '
        'arrive together are encoded one after another, each soon after its frame, instead of '
        'all waiting for one batch; false: together (the largest batches)')
    model_version: str = setting(
        '2', "V-JEPA 2 or 2.1 ('2.1': dense features; sizes base, large, giant, gigantic)",
        choices=tuple(MODEL_VERSIONS))
    model_size: str = setting(
        'large', 'encoder size (V-JEPA 2: large, huge, giant; tiny and small: tests only, no '
        'weights)', choices=MODEL_SIZES)
    img_size: int = setting(
        256, 'the model sees about img_size x img_size pixels (full mode keeps the aspect: '
        '640x480 at 256 gives 288x224)', low=32, high=1024, step=16)
    num_frames: int = setting(16, 'frames per clip (even)', low=2, high=64, step=2)
    stride: int = setting(8, 'new frames between analysed clips', low=1, high=64,
                          runtime=True)
    device: str = setting('auto', 'auto, mps, cuda, cuda:N or cpu (backend mlx: auto = its GPU '
                          'if it has one, mps = Metal, cuda = its CUDA build)')
    precision: str = setting(
        'auto', 'compute precision; auto: fp16 on MPS, bf16 on CUDA (fp16 where bf16 is '
        'not native), fp32 on the CPU', choices=PRECISION_CHOICES)
    fast_path: str = setting('auto', 'auto: compile+cuda_graph on CUDA, none elsewhere; backend '
                             'mlx: compile (mx.compile) on its GPU, none on the CPU',
                             choices=FAST_PATHS)
    checkpoint: str | None = setting(
        None, "official .pt, .safetensors, HF snapshot directory or HF id ('' = none)")
    checkpoint_key: str = setting(
        'auto', "entry of an official .pt; auto: the release's (encoder; 2.1: ema_encoder for "
        'base and large, target_encoder for giant and gigantic)',
        choices=('auto', *CHECKPOINT_KEYS))
    allow_random_weights: bool = setting(
        False, 'run without a checkpoint on random weights (scores meaningless)')
    backend: str = setting(
        'auto', 'what runs the encoder: auto (MLX on a Mac with Apple silicon when installed, '
        'else PyTorch), torch, onnxruntime (an exported .onnx), tensorrt (an engine built '
        'from one) or mlx', choices=BACKENDS)
    engine_path: str | None = setting(
        None, "onnxruntime: .onnx from vjepa-export ('' = export into cache_dir on the first "
        'clip); tensorrt: .engine built from one; its .json sidecar must sit beside it')
    cache_dir: str | None = setting(
        None, 'where onnxruntime keeps encoders it exported and mlx its converted weights '
        "('' = ~/.cache/vjepa_nodes/onnx or /mlx)")
    resize_mode: str = setting(
        'full', 'full (whole field of view) or center_crop (official eval transform)',
        choices=RESIZE_MODES)
    channel_order: str = setting('rgb', 'channel order of the frames given',
                                 choices=CHANNEL_ORDERS)
    max_gap: float = setting(1.0, 'seconds without frames that restart the clip', low=0.01,
                             high=60.0)
    frozen_after: float = setting(
        1.0, 'identical frames for this long mark the camera frozen, s', low=0.1, high=60.0,
        runtime=True)
    surprise: bool = setting(
        False, "also score surprise: the V-JEPA predictor's error on each clip's newest "
        'tubelets, predicted from the earlier ones (costs up to one more encoder pass)')
    surprise_horizon: int = setting(
        2, 'newest tubelets (2 frames each) that surprise predicts from the earlier ones',
        low=1, high=31)
    predictor_checkpoint: str | None = setting(
        None, "file holding the predictor: a released .pt or vjepa-train-predictor's output "
        "('' = the predictor entry of checkpoint)")
    score_source: str = setting(
        'motion', 'what the obstacle flag, region_scores and the avoidance node act on: '
        'motion, surprise (needs surprise on) or max (the higher, region by region)',
        choices=SCORE_SOURCES, runtime=True)
    scoring: ScoringConfig = field(default_factory=ScoringConfig)
    decision: DecisionConfig = field(default_factory=DecisionConfig)

    def __post_init__(self) -> None:
        check_settings(self)
        get_encoder_config(self.model_size, self.model_version)  # a size of that version
        if self.score_source != 'motion' and not self.surprise:
            raise ValueError(f'score_source {self.score_source} needs surprise on')
        if self.surprise and self.backend not in ('torch', 'auto'):
            held = ('the MLX port holds the encoder alone' if self.backend == 'mlx' else
                    f'the {self.backend} file holds the encoder alone')
            raise ValueError(
                f'surprise runs on the torch backend only: {held}, and the predictor also '
                'needs an encoder pass on the context frames (set backend torch or auto, or '
                'surprise off)')
        slots = self.num_frames // get_encoder_config(self.model_size,
                                                      self.model_version).tubelet_size
        if self.surprise and self.surprise_horizon >= slots:
            raise ValueError(
                f'surprise_horizon {self.surprise_horizon} leaves no context in a clip of '
                f'{self.num_frames} frames ({slots} tubelets): lower it below {slots} or raise '
                'num_frames')

    @property
    def checkpoint_entry(self) -> str | None:
        """Return the entry of an official .pt to read (None: the one the release uses)."""
        return None if self.checkpoint_key == 'auto' else self.checkpoint_key
