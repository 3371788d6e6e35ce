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

"""The README's commands run as written: its colcon block builds and runs the package."""

import os
from pathlib import Path
import re
import subprocess
import sys

import pytest

pytestmark = pytest.mark.ros
ROOT = Path(__file__).resolve().parents[1]
MARKER = '<!-- run by test/test_readme.py -->'
BLOCK_ENV = ROOT / '.venv-ros-kilted'  # the environment the block activates itself


def _tested_block() -> str:
    readme = (ROOT / 'README.md').read_text()
    found = re.search(re.escape(MARKER) + r'\n```bash\n(.*?)\n```', readme, re.DOTALL)
    assert found, f'README has no bash block after {MARKER}'
    return found[1]


@pytest.mark.skipif(Path(sys.prefix).resolve() != BLOCK_ENV.resolve(),
                    reason='the block activates .venv-ros-kilted itself: run it once, from there')
def test_the_readme_colcon_block_builds_and_runs_the_package(tmp_path):
    block = _tested_block()
    assert 'colcon build --packages-select vjepa_nodes' in block
    assert 'source install/setup.bash' in block
    # As a reader runs it: from the checkout, in a shell of their own (temporary files here).
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(('VIRTUAL_ENV', 'PYTHON', 'AMENT', 'COLCON'))}
    result = subprocess.run(['bash', '-e', '-c', block], cwd=ROOT, capture_output=True,
                            text=True, env=dict(env, HOME=str(tmp_path), TMPDIR=str(tmp_path)),
                            timeout=600)
    assert result.returncode == 0, f'{result.stdout}\n{result.stderr}'
    installed = list(tmp_path.glob('*/install/vjepa_nodes/share/vjepa_nodes/launch/'
                                   'obstacle_detection.launch.py'))
    assert len(installed) == 1, 'the block built no workspace under TMPDIR'
    assert 'obstacle_detection.launch.py' in result.stdout
    assert 'output     (1, 4, 160) (B, N, D)' in result.stdout
