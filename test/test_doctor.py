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

"""vjepa-doctor: the report of this machine, its caches, and --bench on every backend."""

import json
import platform
import warnings

import mlx.core as mx
import pytest
import torch
from vjepa_nodes.backend_choice import choose_backend, Platform
from vjepa_nodes.encoder import RandomWeightsWarning
from vjepa_nodes.tools.doctor import main


@pytest.fixture
def cache_home(tmp_path, monkeypatch):
    """Point $XDG_CACHE_HOME at an empty directory: the report shows this test's caches only."""
    monkeypatch.setenv('XDG_CACHE_HOME', str(tmp_path / 'cache'))
    return tmp_path / 'cache' / 'vjepa_nodes'


def run(tmp_path, capsys, *arguments) -> tuple[dict[str, list[str]], dict]:
    """Return the printed sections (title: lines, spaces collapsed) and the JSON."""
    path = tmp_path / 'facts.json'
    assert main([*arguments, '--json', str(path)]) == 0
    sections = {}
    for block in capsys.readouterr().out.split('\n\n'):
        title, *lines = block.splitlines()
        sections[title] = [' '.join(line.split()) for line in lines]
    return sections, json.loads(path.read_text())


def line_of(lines: list[str], label: str) -> str:
    return next(line for line in lines if line.startswith(label + ' '))


def test_report_names_versions_choices_and_caches(cache_home, tmp_path, capsys):
    export = cache_home / 'onnx' / 'tiny_4x64x64_fp32_0123456789abcdef'
    export.mkdir(parents=True)
    (export / 'encoder.onnx').write_bytes(bytes(1_500_000))
    sections, facts = run(tmp_path, capsys)

    assert line_of(sections['system'], 'python').startswith(
        f'python {platform.python_version()} (')
    packages = sections['packages']
    assert line_of(packages, 'torch').startswith(f'torch {torch.__version__} (')
    assert line_of(packages, 'mlx') == f'mlx {mx.__version__}'
    if facts['packages']['tensorrt'] is None:
        assert line_of(packages, 'tensorrt') == 'tensorrt not installed'
    expected = choose_backend('auto', Platform.probe())
    auto = line_of(sections['what auto picks'], 'backend: auto')
    assert auto == f'backend: auto {expected.backend}: {expected.reason}'
    assert facts['auto']['backend'] == {'backend': expected.backend, 'reason': expected.reason}
    if platform.system() == 'Linux':
        assert auto.startswith(f'backend: auto torch: auto on Linux {platform.machine()}: '
                               'PyTorch on ')

    caches = {cache['name']: cache for cache in facts['caches']}
    assert caches['onnx exports'] == {'name': 'onnx exports', 'path': str(cache_home / 'onnx'),
                                      'exists': True, 'bytes': 1_500_000, 'entries': 1}
    assert line_of(sections['caches'], 'onnx exports') == (
        f'onnx exports {cache_home / "onnx"} 1.5 MB in 1 entry')
    for name, directory in (('downloads', 'checkpoints'), ('mlx weights', 'mlx')):
        assert line_of(sections['caches'], name) == (
            f'{name} {cache_home / directory} empty (not created yet)')
        assert not caches[name]['exists']
    assert 'bench' not in facts and 'bench' not in sections


def test_bench_times_every_backend_on_random_weights(cache_home, tmp_path, capsys, caplog):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        sections, facts = run(tmp_path, capsys, '--bench', '--device', 'cpu')
    bench = facts['bench']
    assert bench['model'] == 'tiny' and bench['random_weights']
    for name in ('torch', 'onnxruntime', 'mlx'):
        result = bench['backends'][name]
        assert result['median_ms'] > 0 and result['timed_calls'] >= 2, result
        assert line_of(sections['bench'], name).split()[3] == f'{result["median_ms"]:.2f}'
    assert bench['backends']['mlx']['device'] == 'mlx:cpu'
    assert 'RANDOM weights' in sections['bench'][0]
    assert sections['bench'][1] == 'timings only, not a model check'
    # Said once in the report, not by each of the three models built.
    assert not [w for w in caught if issubclass(w.category, RandomWeightsWarning)]
    assert not [record for record in caplog.records if 'RANDOM' in record.getMessage()]
    assert not cache_home.exists()  # built in a temporary cache


def test_a_bad_argument_exits_with_status_2(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(['--device', 'gpu'])
    assert exit_info.value.code == 2
    assert "'gpu' is not one of" in capsys.readouterr().err
