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

import pytest


@pytest.mark.ros
@pytest.mark.flake8
@pytest.mark.linter
def test_flake8():
    # Imported here: the ROS-free environment deselects this test but still collects the file.
    from ament_flake8.main import main_with_errors
    rc, errors = main_with_errors(argv=[])
    assert rc == 0, f'{len(errors)} code style error(s):\n' + '\n'.join(errors)
