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
vjepa-doctor: what vjepa_nodes finds on this machine; the first command to run, and to paste.

Prints the platform, the versions of the packages the backends need, the devices PyTorch and
MLX see, what `device`, `precision` and `backend` set to auto pick here and why, and the caches
with their size on disk. `--bench` also times each backend on a small clip (the test-only tiny
model with random weights: timings only, not a model check). `--json PATH` writes the same
facts as JSON. The exit status is 0 whatever it finds: it is a report.
"""

import argparse
from contextlib import contextmanager
from dataclasses import asdict
import getpass
import importlib
from importlib import metadata
import importlib.util
import json
import logging
import os
from pathlib import Path
import platform
import statistics
import sys
import tempfile
from typing import Callable, Iterator
import warnings

import torch

from vjepa_nodes.backend_choice import choose_backend, mlx_version, Platform
from vjepa_nodes.device import DEVICE_CHOICES, precision_name, resolve_device_and_precision
from vjepa_nodes.encoder.build import RANDOM_WEIGHTS_SOURCE, RandomWeightsWarning
from vjepa_nodes.encoder.cache_dirs import mlx_cache_dir, onnx_cache_dir
from vjepa_nodes.encoder.download import checkpoints_dir
from vjepa_nodes.encoder.export_spec import package_version
from vjepa_nodes.perception import backends
from vjepa_nodes.perception.config import DetectorConfig
from vjepa_nodes.tools.arguments import choice
from vjepa_nodes.tools.tables import align
from vjepa_nodes.tools.timing import time_call, time_calls

NOT_INSTALLED = 'not installed'
BENCH_BACKENDS = ('torch', 'onnxruntime', 'mlx')
BENCH_CLIP = (1, 3, 4, 64, 64)  # batch, channels, frames, height, width
BENCH_CALLS = 5
BENCH_MAX_SECONDS = 2.0  # per backend, after its first call
BENCH_NOTE = ('the test-only tiny model with RANDOM weights, device {device}, fast path none, on '
              'a {clip} clip:\n'
              '  timings only, not a model check')


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Parse the command line; a bad value exits with status 2."""
    parser = argparse.ArgumentParser(
        prog='vjepa-doctor', description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--bench', action='store_true',
                        help='also time each backend (torch, onnxruntime, mlx) on a small clip')
    parser.add_argument('--device', type=device_setting, default='auto',
                        help='with --bench: the device setting each backend is built with')
    parser.add_argument('--json', default=None, metavar='PATH',
                        help='also write the facts as JSON to PATH')
    return parser.parse_args(argv)


def device_setting(text: str) -> str:
    """Check a device setting, raising the error argparse shows (it hides a ValueError's)."""
    try:
        return choice(DEVICE_CHOICES)(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error))


def main(argv: list[str] | None = None) -> int:
    """Run vjepa-doctor with `argv` (default: the command line); return the exit status."""
    args = parse_args(argv)
    facts = collect_facts()
    if args.bench:
        facts['bench'] = _guarded(lambda: bench(args.device))
    print(format_report(facts))
    if args.json:
        with open(args.json, 'w') as out:
            json.dump(facts, out, indent=1)
        print(f'\nwrote {args.json}')
    return 0


def collect_facts() -> dict:
    """Return every fact but the bench, by section; a section that fails holds its error."""
    return {'system': _guarded(system_facts), 'packages': _guarded(package_facts),
            'devices': _guarded(device_facts), 'auto': _guarded(auto_choices),
            'caches': _guarded(cache_facts)}


def _guarded(collect: Callable[[], object]) -> object:
    """Return collect(), or {'error': ...}: one broken probe must not hide the other facts."""
    try:
        return collect()
    except Exception as error:  # noqa: B902 - a broken driver or package is a finding
        return {'error': first_line(error)}


def first_line(error: BaseException) -> str:
    """Return the error's type and first line (install hints come first in ours)."""
    lines = str(error).splitlines()
    return f'{type(error).__name__}: {lines[0] if lines else ""}'


def system_facts() -> dict:
    """Return the platform, Python and vjepa_nodes versions."""
    return {'platform': platform.platform(), 'system': platform.system(),
            'machine': platform.machine(), 'cpu_cores': os.cpu_count(),
            'torch_threads': torch.get_num_threads(),
            'python': platform.python_version(), 'python_executable': sys.executable,
            'vjepa_nodes': package_version()}


def package_facts() -> dict:
    """Return the versions of the packages the backends run on; None where not installed."""
    onnxruntime_version, providers = _onnxruntime_facts()
    return {'torch': torch.__version__, 'torch_cuda_build': torch.version.cuda,
            'torchvision': installed_version('torchvision'),
            'onnxruntime': onnxruntime_version, 'onnxruntime_providers': providers,
            'mlx': mlx_version(), 'tensorrt': installed_version('tensorrt')}


def installed_version(module: str) -> str | None:
    """Return the version of the package `module`, else None; imports it only when needed."""
    try:
        return metadata.version(module)
    except metadata.PackageNotFoundError:
        pass
    # Jetson's TensorRT comes from apt and torchvision is often built there: no pip metadata.
    if importlib.util.find_spec(module) is None:
        return None
    try:
        return str(getattr(importlib.import_module(module), '__version__', 'unknown'))
    except Exception as error:  # noqa: B902 - installed but broken: say so
        return f'broken ({first_line(error)})'


def _onnxruntime_facts() -> tuple[str | None, list[str]]:
    try:
        import onnxruntime
    except ImportError:
        return None, []
    return onnxruntime.__version__, onnxruntime.get_available_providers()


def device_facts() -> dict:
    """Return what PyTorch (MPS, CUDA GPUs) and MLX (its device and GPU kind) see."""
    gpus = torch.cuda.device_count() if torch.cuda.is_available() else 0
    cuda = [{'name': torch.cuda.get_device_name(index),
             'capability': '{}.{}'.format(*torch.cuda.get_device_capability(index))}
            for index in range(gpus)]
    return {'mps': torch.backends.mps.is_available(), 'cuda': cuda, **_mlx_device_facts()}


def _mlx_device_facts() -> dict:
    """Return MLX's default device and GPU ('Metal', 'CUDA', '': CPU-only); None: no MLX."""
    try:
        import mlx.core as mx
        from vjepa_nodes.perception.mlx_backend import (
            GPU_NAMES, mlx_gpu_kind, select_mlx_placement)
    except ImportError:
        return {'mlx_device': None, 'mlx_gpu': None, 'mlx_auto_placement': None}
    gpu_kind = mlx_gpu_kind()
    return {'mlx_device': str(mx.default_device()), 'mlx_gpu': GPU_NAMES.get(gpu_kind, ''),
            'mlx_auto_placement': select_mlx_placement('auto', 'auto', 'auto',
                                                       gpu_kind).description}


def auto_choices() -> dict:
    """Return what backend, device and precision set to auto pick here (as the detector does)."""
    here = Platform.probe()
    choice = choose_backend('auto', here)
    if choice.backend == 'mlx':  # MLX places the encoder itself
        from vjepa_nodes.perception.mlx_backend import mlx_gpu_kind, select_mlx_placement
        placement = select_mlx_placement('auto', 'auto', 'auto', mlx_gpu_kind())
        device, precision = f'mlx:{placement.device}', placement.precision
    else:
        torch_device, dtype = resolve_device_and_precision('auto', 'auto')
        device, precision = str(torch_device), precision_name(dtype)
    return {'device': device, 'precision': precision, 'backend': asdict(choice),
            'backend_with_surprise': asdict(choose_backend('auto', here, surprise=True))}


def cache_facts() -> list[dict]:
    """Return each cache's directory, size on disk (bytes of its files) and entry count."""
    return [_cache_usage(name, path, entry) for name, path, entry in cache_dirs()]


def cache_dirs() -> list[tuple[str, Path, str]]:
    """Return (name, directory, glob of one entry) of each cache vjepa_nodes fills."""
    # Downloads are kept per host (<host>/<file>); each export or conversion is a directory.
    return [('downloads', checkpoints_dir(), '*/*'),
            ('onnx exports', onnx_cache_dir(), '*'),
            ('mlx weights', mlx_cache_dir(), '*'),
            ('torch inductor', inductor_cache_dir(), '*')]


def inductor_cache_dir() -> Path:
    """Return where torch.compile keeps its kernels, by PyTorch's rule (its module takes 1 s)."""
    configured = os.environ.get('TORCHINDUCTOR_CACHE_DIR')
    if configured:
        return Path(configured).absolute()
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = f'uid_{os.getuid()}'
    return Path(tempfile.gettempdir()) / f'torchinductor_{user}'


def _cache_usage(name: str, path: Path, entry: str) -> dict:
    usage = {'name': name, 'path': str(path), 'exists': path.is_dir(), 'bytes': 0,
             'entries': 0}
    if usage['exists']:
        usage['bytes'] = directory_bytes(path)
        usage['entries'] = len(list(path.glob(entry)))
    return usage


def directory_bytes(path: Path) -> int:
    """Return the total size of the files under `path` (links not followed)."""
    total = 0
    for folder, _, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(folder, name)).st_size
            except OSError:  # removed meanwhile, as an export's staging directory is
                pass
    return total


def bench(device: str) -> dict:
    """Time each backend on a small clip, building them into a temporary cache."""
    with tempfile.TemporaryDirectory(prefix='vjepa-doctor-') as cache_dir, (
            _random_weights_unsaid()):
        results = {name: _bench_backend(name, device, cache_dir) for name in BENCH_BACKENDS}
    return {'model': 'tiny', 'random_weights': True, 'clip': list(BENCH_CLIP),
            'device_setting': device, 'backends': results}


def _bench_backend(name: str, device: str, cache_dir: str) -> dict:
    """Return the backend's compute and times, or {'error': ...} when it cannot run here."""
    config = DetectorConfig(model_size='tiny', backend=name, allow_random_weights=True,
                            num_frames=BENCH_CLIP[2], img_size=BENCH_CLIP[-1],
                            cache_dir=cache_dir, device=device, fast_path='none')
    try:
        torch_device, dtype = backends.resolve_compute(config)
        build_s, backend = time_call(
            lambda: backends.build_backend(config, torch_device, dtype), None)
        clip = torch.randn(BENCH_CLIP).to(torch_device, dtype)
        first_s, samples, _ = time_calls(lambda: backend(clip), torch_device, BENCH_CALLS,
                                         BENCH_MAX_SECONDS)
    except Exception as error:  # noqa: B902 - a backend that cannot run here is a finding
        return {'error': first_line(error)}
    device, precision = backends.compute_of(backend, torch_device, dtype)
    return {'device': runs_on(backend, device), 'precision': precision,
            'description': backend.description, 'setup_s': build_s + first_s,
            'median_ms': statistics.median(samples) * 1e3, 'timed_calls': len(samples)}


def runs_on(backend: backends.EncoderBackend, device: str) -> str:
    """Return where a backend computes: `device` (compute_of's), or ONNX Runtime's provider."""
    if backend.name == 'onnxruntime':
        # Its session picks the provider, whatever the clips' device: the description names it
        # ('onnxruntime on CPUExecutionProvider, exported ...').
        provider = backend.description.partition(' on ')[2].partition(',')[0]
        return 'ort:' + provider.removesuffix('ExecutionProvider') if provider else device
    return device


@contextmanager
def _random_weights_unsaid() -> Iterator[None]:
    """Silence the tiny model's random-weights warning and log line: the report says it once."""
    logger = logging.getLogger('vjepa_nodes')

    def keep(record: logging.LogRecord) -> bool:
        return RANDOM_WEIGHTS_SOURCE not in record.getMessage()
    logger.addFilter(keep)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter('ignore', RandomWeightsWarning)
            yield
    finally:
        logger.removeFilter(keep)


def format_report(facts: dict) -> str:
    """Render the facts as plain text, one section after another."""
    sections = [('system', 'system', _system_lines), ('packages', 'packages', _package_lines),
                ('devices', 'devices', _device_lines), ('auto', 'what auto picks', _auto_lines),
                ('caches', 'caches', _cache_lines), ('bench', 'bench', _bench_lines)]
    parts = []
    for key, title, render in sections:
        if key in facts:
            section = facts[key]
            failed = isinstance(section, dict) and set(section) == {'error'}
            body = f'  error: {section["error"]}' if failed else render(section)
            parts.append(f'{title}\n{body}')
    return '\n\n'.join(parts)


def _columns(rows: list[list[str]]) -> str:
    """Left-align rows of cells into indented columns."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return '\n'.join('  ' + '  '.join(cell.ljust(width) for cell, width in zip(row, widths)
                                      ).rstrip() for row in rows)


def _system_lines(system: dict) -> str:
    return _columns([
        ['platform', system['platform']],
        ['system', f'{system["system"]} {system["machine"]}, {system["cpu_cores"]} CPU cores '
                   f'(PyTorch uses {system["torch_threads"]} threads)'],
        ['python', f'{system["python"]} ({system["python_executable"]})'],
        ['vjepa_nodes', system['vjepa_nodes']]])


def _package_lines(packages: dict) -> str:
    def version(name: str) -> str:
        return packages[name] or NOT_INSTALLED
    torch_line = version('torch') + (f' (CUDA build {packages["torch_cuda_build"]})'
                                     if packages['torch_cuda_build'] else ' (no CUDA build)')
    onnxruntime_line = version('onnxruntime') + (
        f' (providers: {", ".join(packages["onnxruntime_providers"])})'
        if packages['onnxruntime'] else '')
    return _columns([['torch', torch_line], ['torchvision', version('torchvision')],
                     ['onnxruntime', onnxruntime_line], ['mlx', version('mlx')],
                     ['tensorrt', version('tensorrt')]])


def _device_lines(devices: dict) -> str:
    gpus = [f'{index}: {gpu["name"]} (compute capability {gpu["capability"]})'
            for index, gpu in enumerate(devices['cuda'])]
    rows = [['PyTorch MPS', 'available' if devices['mps'] else 'not available'],
            ['CUDA GPUs', gpus[0] if gpus else 'none'], *[['', gpu] for gpu in gpus[1:]]]
    if devices['mlx_device'] is None:
        rows.append(['MLX', NOT_INSTALLED])
    else:
        rows += [['MLX device', devices['mlx_device']],
                 ['MLX GPU', devices['mlx_gpu'] or 'none (CPU-only build)'],
                 ['backend mlx', f'{devices["mlx_auto_placement"]} (device, precision auto)']]
    return _columns(rows)


def _auto_lines(auto: dict) -> str:
    def backend(choice: dict) -> str:
        return f'{choice["backend"]}: {choice["reason"]}'
    return _columns([['device: auto', auto['device']], ['precision: auto', auto['precision']],
                     ['backend: auto', backend(auto['backend'])],
                     ['  with surprise on', backend(auto['backend_with_surprise'])]])


def _cache_lines(caches: list[dict]) -> str:
    def usage(cache: dict) -> str:
        if not cache['exists']:
            return 'empty (not created yet)'
        if not cache['entries']:
            return 'empty'
        entries = f'{cache["entries"]} entr' + ('y' if cache['entries'] == 1 else 'ies')
        return f'{human_size(cache["bytes"])} in {entries}'
    return _columns([[cache['name'], cache['path'], usage(cache)] for cache in caches])


def human_size(count: int) -> str:
    """Return a byte count as '512 B', '1.5 MB' (powers of 1000, as disk sizes are sold)."""
    if count < 1000:
        return f'{count} B'
    size = count / 1000
    for unit in ('kB', 'MB', 'GB'):
        if size < 1000 or unit == 'GB':
            break
        size /= 1000
    return f'{size:.1f} {unit}'


def _bench_lines(bench: dict) -> str:
    note = BENCH_NOTE.format(device=bench['device_setting'],
                             clip='x'.join(map(str, bench['clip'])))
    rows = [['backend', 'device', 'precision', 'median ms', 'setup s', 'calls']]
    failures = []
    for name, result in bench['backends'].items():
        if 'error' in result:
            failures.append(f'  {name}: {result["error"]}')
            continue
        rows.append([name, result['device'], result['precision'], f'{result["median_ms"]:.2f}',
                     f'{result["setup_s"]:.1f}', str(result['timed_calls'])])
    table = ''.join(f'\n  {line}' for line in align(rows).splitlines()) if rows[1:] else ''
    return f'  {note}{table}' + ''.join(f'\n{failure}' for failure in failures)


if __name__ == '__main__':
    sys.exit(main())
