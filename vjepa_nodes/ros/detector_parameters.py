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

"""The obstacle_detector node's own settings, beside the core's DetectorConfig."""

from dataclasses import dataclass

from vjepa_nodes.settings import check_settings, setting

RELIABILITIES = ('auto', 'reliable', 'best_effort')


@dataclass(frozen=True)
class NodeSettings:
    """How the node takes images in; the detector's settings are DetectorConfig's."""

    autostart: bool = setting(True, 'configure and activate on start-up')
    image_reliability: str = setting(
        'auto', 'image subscription QoS reliability; auto: reliable, and best effort once a '
        'best-effort camera appears (best effort loses large images on one host)',
        choices=RELIABILITIES)
    image_depth: int = setting(1, 'image subscription queue depth', low=1, high=100)
    max_image_age: float = setting(
        1.0, 'images captured longer ago than this on arrival are dropped, s', low=0.01,
        high=60.0, runtime=True)
    stamp_tolerance: float = setting(
        0.1, 'images stamped further ahead of this clock than this are dropped, s', low=0.0,
        high=1.0, runtime=True)

    def __post_init__(self) -> None:
        check_settings(self)
