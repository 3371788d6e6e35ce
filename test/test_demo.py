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

"""The demo end to end with the tiny test model: three processes over DDS, printout, images."""

import subprocess
import sys

from conftest import once_per_suite
import cv2
import pytest

pytestmark = pytest.mark.ros


@once_per_suite
def test_demo_runs_the_three_nodes_and_writes_its_images(tmp_path):
    result = subprocess.run(
        [sys.executable, '-m', 'vjepa_nodes.ros.demo', '--duration', '16', '--model-version',
         '2.1', '--model-size', 'tiny', '--img-size', '64', '--out-dir', str(tmp_path)],
        capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert 'RANDOM WEIGHTS' in result.stdout
    assert 'V-JEPA 2.1 tiny on cpu' in result.stdout + result.stderr  # the detector's log
    assert 'Traceback' not in result.stdout + result.stderr
    progress = [line for line in result.stdout.splitlines() if line.startswith('[')]
    assert progress and 'starting the nodes' in progress[0]  # never silent while loading
    assert 'nodes stopped cleanly (exit codes [0, 0, 0])' in result.stdout
    lines = [line for line in result.stdout.splitlines() if line.startswith('t=')]
    assert len(lines) >= 3 and all('state=' in line and 'cmd=(' in line for line in lines)
    plot = cv2.imread(str(tmp_path / 'demo_plot.png'))
    overlay = cv2.imread(str(tmp_path / 'demo_overlay.png'))
    assert plot is not None and plot.shape[0] > 300
    # For each third of the view with motion, its top clip: twice 320x240, with a caption.
    assert overlay is not None and overlay.shape[0] > 480 and overlay.shape[1] in (640, 1280, 1920)
