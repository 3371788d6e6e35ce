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
The encoder cases of vjepa-benchmark: one Row per timed case, and the table of them.

Every combination of model size x frame count x resolution x device x precision x batch size x
fast path is timed on the same random clip; `--backends onnxruntime` adds the encoder exported
for each case and `--backends mlx` the encoder converted to MLX (the backend mlx of the
detector), both timed in turns with the PyTorch paths, and `--compare` the reference
implementations (reference_models). Each row gives the median, fastest and slowest call, the
relative error against plain fp32 on the same device (same weights, same clip), the speed-up
over the torch row of the same case (the fast path auto means there) and the one over the plain
fp32 CPU row of the same shape when the CPU was measured too.
"""

import argparse
import copy
from dataclasses import asdict, dataclass, field
import gc
import os
from pathlib import Path
import statistics
import tempfile
import warnings

import torch

from vjepa_nodes.device import (
    precision_name, PRECISIONS, resolve_device_and_precision, synchronize)
from vjepa_nodes.encoder import build_encoder, RandomWeightsWarning
from vjepa_nodes.encoder.export_spec import EXPORT_PRECISIONS
from vjepa_nodes.encoder.fast_path import EncoderRunner, resolve_fast_path
from vjepa_nodes.encoder.onnx_export import export_onnx, export_spec, relative_error
from vjepa_nodes.encoder.onnxruntime_encoder import OnnxRuntimeEncoder
from vjepa_nodes.perception.backends import ONNX_FILE
from vjepa_nodes.tools import reference_models
from vjepa_nodes.tools.arguments import split_model
from vjepa_nodes.tools.tables import align
from vjepa_nodes.tools.timing import time_call, time_calls, time_together

PLAIN = 'none'
BENCHMARK_BACKENDS = ('torch', 'onnxruntime', 'mlx')


@dataclass
class Row:
    """One timed case: the median call, with the fastest and the slowest beside it."""

    model: str
    frames: int
    height: int
    width: int
    device: str
    precision: str
    batch: int
    # 'vjepa_nodes' (torch backend), 'onnxruntime', 'mlx', 'transformers',
    # 'transformers+compile', 'official'
    implementation: str
    # onnxruntime: its execution provider; mlx: its device ('cpu', 'metal' or 'cuda'), with
    # '+mx.compile' when compiled
    fast_path: str = '-'
    setup_s: float | None = None  # first call: compilation, autotuning, graph capture
    ms_per_batch: float | None = None
    ms_per_clip: float | None = None
    min_ms_per_clip: float | None = None
    max_ms_per_clip: float | None = None
    clips_per_s: float | None = None
    timed_calls: int = 0
    rel_error_vs_fp32: float | None = None
    speedup_vs_torch: float | None = None  # over the same case's torch row
    speedup_vs_cpu: float | None = None
    weights_mb: float | None = None  # the encoder's weights in the row's precision
    peak_gpu_mb: float | None = None  # CUDA: most memory allocated while the row was timed
    note: str = ''
    cpu_fallback_ops: list[str] = field(default_factory=list)


def encoder_rows(args: argparse.Namespace) -> list[Row]:
    """Time every requested encoder case; a case that fails becomes a row with a note."""
    rows: list[Row] = []
    generator = torch.Generator().manual_seed(0)
    for model_size in args.model_sizes:
        with warnings.catch_warnings():
            warnings.simplefilter('ignore', RandomWeightsWarning)  # benchmark.main() says it once
            size, version = split_model(model_size)
            master = build_encoder(size, model_version=version, checkpoint=args.checkpoint,
                                   allow_random_weights=not args.checkpoint)
        for device_name in args.devices:
            for precision in args.precisions:
                try:
                    device, dtype = resolve_device_and_precision(device_name, precision)
                except (ValueError, RuntimeError) as error:
                    rows.append(Row(model_size, 0, 0, 0, device_name, precision, 0, 'vjepa_nodes',
                                    note=f'unavailable: {error}'))
                    continue
                rows += _device_rows(args, model_size, master, device, dtype, generator)
        del master
        gc.collect()
    _fill_speedups(rows)
    return rows


def _device_rows(args, model_size, master, device, dtype, generator) -> list[Row]:
    rows = []
    encoder = copy.deepcopy(master).to(device, dtype)
    reference = None if args.no_accuracy else copy.deepcopy(master).to(device)
    # 'auto' is one of the named paths on each device: time each path once.
    fast_paths = list(dict.fromkeys(_resolved_name(name, device) for name in args.fast_paths))
    for frames in args.frames:
        for height, width in args.resolutions:
            for batch in args.batch_sizes:
                base = Row(model_size, frames, height, width, str(device),
                           precision_name(dtype), batch, 'vjepa_nodes')
                try:
                    clip = torch.randn((batch, 3, frames, height, width), generator=generator)
                    clip = clip.to(device)
                    expected = None
                    if reference is not None:
                        with torch.inference_mode():
                            expected = reference(clip)
                except (RuntimeError, ValueError) as error:
                    rows.append(Row(**{**asdict(base), 'note': f'failed: {_first_line(error)}'}))
                    continue
                rows += _time_ours(args, base, encoder, master, fast_paths, clip, expected)
                if args.compare and master.config.model_version == '2':  # the references are 2's
                    rows += _time_references(args, base, master.config, clip)
    return rows


def _resolved_name(fast_path: str, device: torch.device) -> str:
    try:
        return resolve_fast_path(fast_path, device).name
    except ValueError:
        return fast_path  # its row says why it cannot run here


def _first_line(error: Exception) -> str:
    return f'{type(error).__name__}: {str(error).splitlines()[0][:200] if str(error) else ""}'


def _time_ours(args, base: Row, encoder, master, fast_paths: list[str], clip,
               expected) -> list[Row]:
    """Time each fast path and, with --backends, the exported file and MLX, in turns."""
    cases = [] if 'torch' not in args.backends else [
        _torch_case(args, base, encoder, fast_path, clip) for fast_path in fast_paths]
    if 'onnxruntime' in args.backends:
        cases.append(_onnxruntime_case(base, master, clip))
    if 'mlx' in args.backends:
        cases.append(_mlx_case(base, master, clip))
    runnable = [(row, call, outputs) for row, call, outputs in cases if call is not None]
    if clip.device.type == 'cuda':
        torch.cuda.reset_peak_memory_stats(clip.device)
    try:
        timings = time_together([call for _, call, _ in runnable], clip.device,
                                args.iterations, args.max_seconds)
    except (RuntimeError, ValueError) as error:
        for row, _, _ in runnable:
            row.note = f'failed: {_first_line(error)}'
        return [row for row, _, _ in cases]
    peak = (torch.cuda.max_memory_allocated(clip.device) / 1e6 if clip.device.type == 'cuda'
            else None)
    for (row, call, outputs), timing in zip(runnable, timings):
        _fill_times(row, *timing)
        # One torch row's own peak only: onnxruntime and MLX allocate outside torch's view.
        row.peak_gpu_mb = (peak if len(runnable) == 1 and row.implementation == 'vjepa_nodes'
                           else None)
        if expected is not None:  # MLX hands its tokens back on the CPU
            row.rel_error_vs_fp32 = relative_error(outputs[0].to(expected.device), expected)
        if args.profile_dir:
            _profile(args.profile_dir, row, call)
    return [row for row, _, _ in cases]


def _torch_case(args, base: Row, encoder, fast_path: str, clip):
    row = Row(**{**asdict(base), 'fast_path': fast_path})
    try:
        # Fresh compiler state per case: past its recompile limit dynamo would run eager quietly.
        torch._dynamo.reset()
        runner = EncoderRunner(encoder, fast_path, args.compile_mode)
    except (RuntimeError, ValueError) as error:
        row.note = f'failed: {_first_line(error)}'
        return row, None, None
    row.fast_path = runner.fast_path.name
    row.weights_mb = sum(t.numel() * t.element_size() for t in encoder.state_dict().values()) / 1e6
    typed = clip.to(runner.dtype)  # as the preprocessor hands it over
    outputs = []

    def call():
        outputs[:] = [runner(typed)]
    return row, call, outputs


def _onnxruntime_case(base: Row, master, clip):
    """Export the fp32 master for this clip and precision; the export counts as set-up."""
    row = Row(**{**asdict(base), 'implementation': 'onnxruntime'})
    if base.precision not in EXPORT_PRECISIONS:
        row.note = f'unavailable: exported files hold {" or ".join(EXPORT_PRECISIONS)}'
        return row, None, None
    directory = tempfile.TemporaryDirectory(prefix='vjepa-benchmark-')
    try:
        spec = export_spec(master, split_model(base.model)[0], *clip.shape[2:],
                           base.precision, batch=base.batch)
        export_seconds, run = time_call(lambda: OnnxRuntimeEncoder(export_onnx(
            master, spec, Path(directory.name) / ONNX_FILE, report=lambda text: None),
            spec), None)
    except (RuntimeError, ValueError, OSError) as error:
        row.note = f'failed: {_first_line(error)}'
        return row, None, None
    row.fast_path = run.provider.removesuffix('ExecutionProvider')
    row.setup_s = export_seconds  # the first call adds to it
    typed, outputs = clip.to(run.dtype), []

    def call(directory=directory):  # the exported file lives as long as this call
        outputs[:] = [run(typed)]
    return row, call, outputs


def _mlx_case(base: Row, master, clip):
    """Convert the fp32 master for MLX on the row's device; the conversion counts as set-up."""
    from vjepa_nodes.perception import mlx_backend  # parse_args checked that MLX imports
    row = Row(**{**asdict(base), 'implementation': 'mlx'})
    try:
        # The detector's choice for backend mlx: its GPU only where a cuda or mps row asks for
        # the kind it drives, mx.compile on a GPU.
        placement = mlx_backend.select_mlx_placement(base.device, base.precision, 'auto',
                                                     mlx_backend.mlx_gpu_kind())
    except (RuntimeError, ValueError) as error:
        row.note = f'unavailable: {error}'
        return row, None, None
    try:
        with tempfile.TemporaryDirectory(prefix='vjepa-benchmark-') as cache:
            setup_seconds, run = time_call(lambda: mlx_backend.MlxBackend(
                master, split_model(base.model)[0], placement, Path(cache)), None)
    except (RuntimeError, ValueError, OSError) as error:
        row.note = f'failed: {_first_line(error)}'
        return row, None, None
    row.fast_path = (placement.gpu_kind or 'cpu') + '+mx.compile' * placement.compile_model
    row.setup_s = setup_seconds  # the first call adds to it
    host, outputs = clip.to('cpu', torch.float32), []  # as the detector hands clips to MLX

    def call():
        outputs[:] = [run(host)]
    return row, call, outputs


def _time_references(args, base: Row, config, clip) -> list[Row]:
    builders = [('transformers', lambda: reference_models.transformers_encoder(
        config, base.height, base.frames))]
    if args.official_repo:
        builders.append(('official', lambda: reference_models.official_encoder(
            config, base.height, args.official_repo)))
    rows = []
    for name, build in builders:
        variants = [False, True] if name == 'transformers' and clip.device.type == 'cuda' else [
            False]
        for compiled in variants:
            row = Row(**{**asdict(base), 'implementation': name + '+compile' * compiled})
            try:
                _time_reference(row, build, compiled, clip, args)
            except (reference_models.ReferenceUnavailable, RuntimeError, ValueError) as error:
                row.note = f'skipped: {str(error).splitlines()[0][:200]}'
            rows.append(row)
            gc.collect()
    return rows


def _time_reference(row: Row, build, compiled: bool, clip: torch.Tensor, args) -> None:
    if row.height != row.width:
        raise ValueError('reference implementations are timed on square clips')
    module, function = build()
    module.to(clip.device, PRECISIONS[row.precision])
    if compiled:
        function = torch.compile(function, dynamic=False)
    typed = clip.to(PRECISIONS[row.precision])

    def call():
        with torch.inference_mode():
            function(typed)
    _measure(row, call, clip.device, args)


def _measure(row: Row, call, device: torch.device, args) -> None:
    _fill_times(row, *time_calls(call, device, args.iterations, args.max_seconds))


def _fill_times(row: Row, first: float, samples: list[float], fallbacks: list[str]) -> None:
    row.setup_s = (row.setup_s or 0.0) + first
    row.timed_calls = len(samples)
    row.ms_per_batch = statistics.median(samples) * 1e3
    row.ms_per_clip = row.ms_per_batch / row.batch
    row.min_ms_per_clip = min(samples) * 1e3 / row.batch
    row.max_ms_per_clip = max(samples) * 1e3 / row.batch
    row.clips_per_s = 1e3 / row.ms_per_clip
    row.cpu_fallback_ops = fallbacks


def _profile(directory: str, row: Row, call) -> None:
    """Write the kernel table of five calls: where the time goes, for the closing notes."""
    from torch.profiler import profile, ProfilerActivity
    activities = [ProfilerActivity.CPU] + (
        [ProfilerActivity.CUDA] if row.device.startswith('cuda') else [])
    with profile(activities=activities) as prof:
        for _ in range(5):
            call()
        synchronize(torch.device(row.device))
    sort = 'cuda_time_total' if row.device.startswith('cuda') else 'cpu_time_total'
    os.makedirs(directory, exist_ok=True)
    name = (f'{row.model}_{row.frames}x{row.height}x{row.width}_b{row.batch}_{row.precision}_'
            f'{row.device.replace(":", "")}_{row.fast_path.replace("+", "-")}.txt')
    with open(os.path.join(directory, name), 'w') as out:
        out.write(prof.key_averages().table(sort_by=sort, row_limit=25, max_name_column_width=70))


def _fill_speedups(rows: list[Row]) -> None:
    cpu = {(r.model, r.frames, r.height, r.width, r.batch): r.ms_per_clip for r in rows
           if r.device == 'cpu' and r.implementation == 'vjepa_nodes' and r.precision == 'fp32'
           and r.fast_path == PLAIN and r.ms_per_clip}
    torch_ms = _torch_ms_per_case(rows)
    for row in rows:
        base = cpu.get((row.model, row.frames, row.height, row.width, row.batch))
        if base and row.ms_per_clip:
            row.speedup_vs_cpu = base / row.ms_per_clip
        if _case(row) in torch_ms and row.ms_per_clip:
            row.speedup_vs_torch = torch_ms[_case(row)] / row.ms_per_clip


def _case(row: Row) -> tuple:
    return row.model, row.frames, row.height, row.width, row.device, row.precision, row.batch


def _torch_ms_per_case(rows: list[Row]) -> dict[tuple, float]:
    """ms/clip of each case's torch row: the fast path auto means on its device, else the first."""
    torch_ms = {}
    for row in rows:
        if row.implementation == 'vjepa_nodes' and row.ms_per_clip and (
                _case(row) not in torch_ms or row.fast_path == _resolved_name(
                    'auto', torch.device(row.device))):
            torch_ms[_case(row)] = row.ms_per_clip
    return torch_ms


COLUMNS = [  # header, Row attribute, format
    ('model', 'model', '{}'), ('clip', None, '{}'), ('device', 'device', '{}'),
    ('prec', 'precision', '{}'), ('batch', 'batch', '{}'), ('implementation', None, '{}'),
    ('setup s', 'setup_s', '{:.1f}'), ('ms/clip', 'ms_per_clip', '{:.2f}'),
    ('min', 'min_ms_per_clip', '{:.2f}'), ('max', 'max_ms_per_clip', '{:.2f}'),
    ('clips/s', 'clips_per_s', '{:.1f}'), ('vs torch', 'speedup_vs_torch', 'x{:.2f}'),
    ('vs CPU', 'speedup_vs_cpu', 'x{:.1f}'),
    ('rel.err', 'rel_error_vs_fp32', '{:.1e}'), ('weights MB', 'weights_mb', '{:.0f}'),
    ('peak GPU MB', 'peak_gpu_mb', '{:.0f}'),
]


def format_table(rows: list[Row]) -> str:
    """Render rows as an aligned text table; notes follow below it."""
    cells = [[header for header, _, _ in COLUMNS]]
    notes = []
    for row in rows:
        line = []
        for header, attribute, spec in COLUMNS:
            if header == 'clip':
                value = f'{row.frames}x{row.height}x{row.width}' if row.frames else '-'
            elif header == 'implementation':
                value = row.implementation + (f' [{row.fast_path}]' if row.implementation in (
                    'vjepa_nodes', 'onnxruntime', 'mlx') else '')
            else:
                raw = getattr(row, attribute)
                value = '-' if raw is None else spec.format(raw)
            line.append(value)
        cells.append(line)
        note = row.note or ('CPU fallback ops: ' + '; '.join(row.cpu_fallback_ops)
                            if row.cpu_fallback_ops else '')
        note = note and f'{row.implementation} {row.device} {row.precision}: {note}'
        if note and note not in notes:
            notes.append(note)
    return align(cells) + ''.join(f'\n  note: {note}' for note in notes)
