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
`vjepa-benchmark --pipeline HxW`: the detector on camera frames, split into encoder and the rest.

Per clip: `stride` camera frames go through add_frame (in the node, on the image callback's
thread, while the previous clip is analysed), then detect() uploads, resizes and normalises the
new frames, runs the encoder, scores motion and builds the heat map at camera size. The encoder
alone is timed on the same clip shape; the difference is the detector's own cost per clip.
With `--surprise` each case is timed again with surprise on: its extra time per clip against the
encoder alone, the predictor's parameters and (CUDA) the peak memory of both runs.
"""

import argparse
from dataclasses import dataclass
import os
import statistics
import warnings

import torch

from vjepa_nodes.camera_sources import moving_demo_frames
from vjepa_nodes.device import precision_name
from vjepa_nodes.encoder import RandomWeightsWarning
from vjepa_nodes.perception.config import DetectorConfig, ScoringConfig
from vjepa_nodes.perception.detector import ObstacleDetector
from vjepa_nodes.tools.arguments import split_model
from vjepa_nodes.tools.tables import align
from vjepa_nodes.tools.timing import time_call, time_calls

CLIPS = 12  # timed clips per case (or --iterations, if fewer), after two warm-up clips


@dataclass
class PipelineRow:
    """Medians per clip, in milliseconds."""

    model: str
    frames: int
    img_size: int
    camera: str  # HxW
    device: str
    precision: str
    fast_path: str
    surprise: str = 'off'
    model_input: str = '-'
    add_frame_ms: float | None = None  # per frame
    detect_ms: float | None = None  # detect(): preprocessing, encoder, scores, heat map
    encoder_ms: float | None = None
    other_ms: float | None = None  # detect_ms - encoder_ms
    setup_s: float | None = None
    predictor_params: int | None = None
    peak_memory_mb: float | None = None  # CUDA: most memory allocated while timed
    note: str = ''


def pipeline_rows(args: argparse.Namespace) -> tuple[list[PipelineRow], str]:
    """Time the detector for every model size, frame count, img_size, device and fast path."""
    height, width = args.camera
    camera = moving_demo_frames(width, height, args.camera_fps, int(args.camera_fps))
    rows = []
    for model_size in args.model_sizes:
        for frames in args.frames:
            for img_size, _ in args.resolutions:
                for device in args.devices:
                    for precision in args.precisions:
                        for fast_path in args.fast_paths:
                            for surprise in ('off', 'on') if args.surprise else ('off',):
                                row = PipelineRow(model_size, frames, img_size,
                                                  f'{height}x{width}', device, precision,
                                                  fast_path, surprise)
                                try:
                                    _time_detector(row, args, camera)
                                except (ValueError, RuntimeError) as error:
                                    row.note = f'failed: {str(error).splitlines()[0][:200]}'
                                rows.append(row)
    return rows, format_pipeline_table(rows)


def _time_detector(row: PipelineRow, args: argparse.Namespace, camera: list) -> None:
    size, version = split_model(row.model)
    config = DetectorConfig(  # the PyTorch detector: its fast paths are the rows' subject
        backend='torch',
        model_version=version, model_size=size, img_size=row.img_size, num_frames=row.frames,
        device=row.device, precision=row.precision, fast_path=row.fast_path, stride=args.stride,
        checkpoint=args.checkpoint, allow_random_weights=not args.checkpoint,
        surprise=row.surprise == 'on',
        # A released predictor has no measured baseline; any value times the same.
        scoring=ScoringConfig(surprise_baseline=0.5))
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', RandomWeightsWarning)
        detector = ObstacleDetector(config=config)
    row.device = str(detector.device)
    row.precision = precision_name(detector.dtype)
    row.fast_path = detector.backend.runner.fast_path.name
    if detector.surprise:
        row.predictor_params = sum(p.numel() for p in detector.surprise.predictor.parameters())
    cuda = detector.device.type == 'cuda'
    if cuda:
        torch.cuda.reset_peak_memory_stats(detector.device)
    period, frame_index, totals, adds = 1 / args.camera_fps, 0, [], []
    for _ in range(config.num_frames - config.stride):  # the first clip needs a full buffer
        frame_index += 1
        detector.add_frame(camera[frame_index % len(camera)], frame_index * period)
    clips = min(CLIPS, args.iterations)
    for clip_index in range(clips + 2):
        for _ in range(config.stride):
            frame_index += 1
            frame = camera[frame_index % len(camera)]
            # Host work only, as on the node's image callback thread: not synchronised.
            seconds, _ = time_call(lambda: detector.add_frame(frame, frame_index * period), None)
            adds.append(seconds)
        seconds, result = time_call(detector.detect, detector.device)
        totals.append(seconds)
        if result is None:
            raise RuntimeError('the detector produced no clip')
        if clip_index == 0:
            row.setup_s = totals[0]
    if cuda:
        row.peak_memory_mb = torch.cuda.max_memory_allocated(detector.device) / 2**20
    if args.profile_dir:
        _profile(args.profile_dir, row, detector, camera, frame_index, period)
    pixels, _ = detector.camera().preprocess([result.last_frame] * row.frames,
                                             config.channel_order)
    _, encoder, _ = time_calls(lambda: detector.backend(pixels), detector.device,
                               clips, args.max_seconds)
    row.model_input = 'x'.join(str(side) for side in pixels.shape[-2:])
    row.add_frame_ms = statistics.median(adds) * 1e3
    row.detect_ms = statistics.median(totals[2:]) * 1e3
    row.encoder_ms = statistics.median(encoder) * 1e3
    row.other_ms = row.detect_ms - row.encoder_ms


def _profile(directory: str, row: PipelineRow, detector: ObstacleDetector, camera: list,
             frame_index: int, period: float) -> None:
    """Write where three clips' time goes, by CPU and by device time: the non-encoder work."""
    from torch.profiler import profile, ProfilerActivity
    cuda = detector.device.type == 'cuda'
    with profile(activities=[ProfilerActivity.CPU] + [ProfilerActivity.CUDA] * cuda) as prof:
        for _ in range(3):
            for _ in range(detector.config.stride):
                frame_index += 1
                detector.add_frame(camera[frame_index % len(camera)], frame_index * period)
            detector.detect()
    os.makedirs(directory, exist_ok=True)
    name = f'pipeline_{row.model}_{row.camera}_{row.device.replace(":", "")}_{row.fast_path}.txt'
    with open(os.path.join(directory, name.replace('+', '-')), 'w') as out:
        for sort in ['cpu_time_total'] + ['cuda_time_total'] * cuda:
            out.write(prof.key_averages().table(sort_by=sort, row_limit=30,
                                                max_name_column_width=60) + '\n')


def format_pipeline_table(rows: list[PipelineRow]) -> str:
    """Render pipeline rows as an aligned text table; notes follow below it."""
    header = ('model', 'clip', 'camera', 'model in', 'device', 'prec', 'fast path', 'surprise',
              'setup s', 'add_frame ms', 'detect ms', 'encoder ms', 'other ms', 'peak MB')
    lines = [header]
    for row in rows:
        lines.append((row.model, f'{row.frames}x{row.img_size}', row.camera, row.model_input,
                      row.device, row.precision, row.fast_path, row.surprise,
                      *('-' if value is None else f'{value:.{digits}f}' for value, digits in (
                          (row.setup_s, 1), (row.add_frame_ms, 2), (row.detect_ms, 2),
                          (row.encoder_ms, 2), (row.other_ms, 2), (row.peak_memory_mb, 0)))))
    return (align(lines) + ''.join(f'\n  note: {row.device} {row.fast_path}: {row.note}'
                                   for row in rows if row.note)
            + ''.join(_surprise_cost(rows)))


def _surprise_cost(rows: list[PipelineRow]) -> list[str]:
    """Say what surprise adds to each case, against the encoder alone."""
    lines = []
    for off, on in zip(rows, rows[1:]):
        if off.surprise == 'off' and on.surprise == 'on' and off.detect_ms and on.detect_ms:
            extra = on.detect_ms - off.detect_ms
            lines.append(f'\n  surprise: {off.model} {off.device} {off.fast_path}: +{extra:.2f} '
                         f'ms per clip = {extra / off.encoder_ms:.2f} x the encoder alone; '
                         f'predictor {on.predictor_params / 1e6:.1f} M parameters')
    return lines
