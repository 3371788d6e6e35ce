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

"""The package builds and tests with colcon, and ROS 2 finds what it installs."""

import os
from pathlib import Path
import shutil
import subprocess
import sys
from xml.etree import ElementTree

from conftest import once_per_suite
import pytest

PACKAGE_ROOT = Path(__file__).resolve().parents[1]
BUILD_OUTPUTS = ('build', 'install', 'log')


def _copy_sources(destination: Path):
    """Copy the package as a checkout would have it (no environments, caches or build outputs)."""
    shutil.copytree(PACKAGE_ROOT, destination, ignore=shutil.ignore_patterns(
        '.venv*', '.git', '__pycache__', '*.egg-info', '.pytest_cache', '.hypothesis',
        *BUILD_OUTPUTS))


def _run(command, cwd, env=None):
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, f'{command} failed:\n{result.stdout}\n{result.stderr}'
    return result.stdout


@pytest.fixture(scope='module')
def workspace(tmp_path_factory):
    """Return a colcon workspace with this package built and installed."""
    root = tmp_path_factory.mktemp('ws')
    _copy_sources(root / 'src' / 'vjepa_nodes')
    _run([Path(sys.executable).parent / 'colcon', 'build'], cwd=root)
    return root


def _sourced_env(workspace: Path) -> dict:
    """Return the environment that sourcing install/setup.bash gives for this package."""
    prefix = workspace / 'install' / 'vjepa_nodes'
    site = prefix / 'lib' / f'python{sys.version_info.major}.{sys.version_info.minor}' / \
        'site-packages'
    return dict(os.environ, AMENT_PREFIX_PATH=str(prefix),
                PYTHONPATH=os.pathsep.join([str(site), os.environ.get('PYTHONPATH', '')]))


@pytest.mark.ros
def test_install_layout_is_what_ros2_run_and_launch_look_for(workspace):
    prefix = workspace / 'install' / 'vjepa_nodes'
    assert (prefix / 'share/ament_index/resource_index/packages/vjepa_nodes').is_file()
    assert (prefix / 'share/vjepa_nodes/package.xml').is_file()
    assert (prefix / 'share/vjepa_nodes/launch/obstacle_detection.launch.py').is_file()
    assert {p.name for p in (prefix / 'share/vjepa_nodes/config').iterdir()} == {
        'obstacle_detection.yaml', 'mac_dev.yaml', 'jetson.yaml', 'multi_camera.yaml',
        'fastdds_large_images.xml'}
    assert not (prefix / 'share/vjepa_nodes/launch/__pycache__').exists()
    for executable in ('encoder_demo', 'vjepa-benchmark', 'vjepa-export', 'vjepa-soak',
                       'vjepa-bag', 'vjepa-train-predictor', 'vjepa-doctor', 'camera_node',
                       'collision_avoidance', 'obstacle_detector', 'demo'):
        assert os.access(prefix / 'lib/vjepa_nodes' / executable, os.X_OK), executable
    code = ('from ament_index_python import packages\n'
            "print(packages.get_package_prefix('vjepa_nodes'))\n"
            "print(packages.get_package_share_directory('vjepa_nodes'))\n")
    found = _run([sys.executable, '-c', code], cwd=workspace, env=_sourced_env(workspace))
    assert found.split() == [str(prefix), str(prefix / 'share' / 'vjepa_nodes')]


@pytest.mark.ros
@once_per_suite  # runs encoder_demo, no ROS
def test_installed_executable_runs_from_the_install_space(workspace):
    env = _sourced_env(workspace)
    location = _run([sys.executable, '-c', 'import vjepa_nodes; print(vjepa_nodes.__file__)'],
                    cwd=workspace, env=env)
    assert location.startswith(str(workspace / 'install'))
    out = _run([workspace / 'install/vjepa_nodes/lib/vjepa_nodes/encoder_demo',
                '--model-size', 'tiny', '--allow-random-weights', '--num-frames', '2',
                '--height', '32', '--width', '32', '--iterations', '1'],
               cwd=workspace, env=env)
    assert 'output     (1, 4, 160) (B, N, D)' in out
    # `ros2 run vjepa_nodes vjepa-export` runs this file.
    out = _run([workspace / 'install/vjepa_nodes/lib/vjepa_nodes/vjepa-export', '--model-size',
                'tiny', '--allow-random-weights', '--frames', '2', '--resolution', '32',
                '--output', workspace / 'tiny.onnx'], cwd=workspace, env=env)
    assert 'relative error against PyTorch fp32' in out and (workspace / 'tiny.json').is_file()


@pytest.mark.ros
@once_per_suite  # colcon and the package's tests are the same in both environments
def test_colcon_test_runs_the_package_tests(workspace):
    colcon = Path(sys.executable).parent / 'colcon'
    # One quick linter stands in for the suite here; the suite, linters too, runs outside colcon.
    _run([colcon, 'test', '--pytest-args', '-m', 'pep257'], cwd=workspace)
    summary = _run([colcon, 'test-result', '--all'], cwd=workspace)
    assert '0 errors, 0 failures' in summary
    report = ElementTree.parse(workspace / 'build' / 'vjepa_nodes' / 'pytest.xml')
    ran = {case.get('name') for case in report.iter('testcase') if case.find('skipped') is None}
    assert 'test_pep257' in ran
