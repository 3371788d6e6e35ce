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

"""ament_flake8 over the package (ROS's style: 99 columns, Google import order, single quotes)."""

from pathlib import Path
import subprocess
import sys

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.ros
@pytest.mark.flake8
@pytest.mark.linter
def test_flake8():
    # In a process of its own: flake8 forks its workers, and a fork of this process, which holds
    # the DDS threads of earlier tests, once left a worker dead and flake8 waiting for it.
    code = 'import sys; from ament_flake8.main import main; sys.exit(main([]))'
    result = subprocess.run([sys.executable, '-c', code], cwd=ROOT, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, f'code style errors:\n{result.stdout}\n{result.stderr}'
