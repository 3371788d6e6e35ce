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
How results sit in standard ROS messages, shared by the nodes and vjepa-bag (imports no ROS).

See vjepa_nodes.ros.score_messages for the messages themselves.
"""

import sys

import numpy as np

from vjepa_nodes.perception.config import REGIONS

REGION_LABEL = ','.join(REGIONS)  # the one dimension label of region_scores
# The fields of region_scores' one std_msgs/MultiArrayDimension.
REGION_DIMENSION = {'label': REGION_LABEL, 'size': len(REGIONS), 'stride': len(REGIONS)}
PERCEPTION_STATUS = 'perception'  # the status name in a perception message
USABLE = 'usable'  # the status message of a usable result
TIMING_SUFFIX = '_ms'  # perception keys of stage timings: receive_ms, wait_ms, ...


def surprise_values(surprise_score: float | None,
                    surprise_regions: dict[str, float] | None) -> dict[str, float]:
    """Return surprise_score and surprise_<region> for a perception status ({} if off)."""
    if surprise_score is None or surprise_regions is None:
        return {}
    return {'surprise_score': surprise_score,
            **{f'surprise_{region}': surprise_regions[region] for region in REGIONS}}


def perception_values(region_scores: dict[str, float], motion_score: float, obstacle: bool,
                      has_reference: bool, surprise: dict[str, float] | None = None,
                      timings: dict[str, float] | None = None) -> list[tuple[str, str]]:
    """
    Return the (key, value) text pairs of a perception status, in order.

    region_scores are the score source's (what to act on); `surprise` from surprise_values;
    `timings` the seconds of each stage since capture, as <stage>_ms in milliseconds.
    """
    numbers = {**region_scores, 'motion_score': motion_score, **(surprise or {})}
    flags = {'obstacle': obstacle, 'has_reference': has_reference}
    return ([(key, repr(float(value))) for key, value in numbers.items()]
            + [(key, str(flag).lower()) for key, flag in flags.items()]
            + [(stage + TIMING_SUFFIX, f'{seconds * 1e3:.3f}')
               for stage, seconds in (timings or {}).items()])


def timings_from_values(values: dict[str, str]) -> dict[str, float]:
    """Return the stage timings (seconds) of a perception status's values, by stage."""
    return {key[:-len(TIMING_SUFFIX)]: float(value) * 1e-3 for key, value in values.items()
            if key.endswith(TIMING_SUFFIX)}


def heatmap_fields(heatmap: np.ndarray) -> dict:
    """Return the sensor_msgs/Image fields (but the header) of a 32FC1 heat map; data: uint8."""
    values = np.ascontiguousarray(heatmap, dtype=np.float32)
    return {'height': values.shape[0], 'width': values.shape[1], 'encoding': '32FC1',
            'is_bigendian': int(sys.byteorder == 'big'), 'step': values.shape[1] * 4,
            'data': values.view(np.uint8).reshape(-1)}
