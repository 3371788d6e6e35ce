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
The detector's results as standard messages.

- `region_scores`: std_msgs/Float32MultiArray, one dimension of size 3 whose label names the
  regions in order: 'left,center,right'. Published only for clips that have a reference clip,
  so a restarting camera reads as silence rather than as an all-clear.
- `perception`: diagnostic_msgs/DiagnosticArray, what the avoidance node acts on: everything
  about one clip in one stamped message. header.stamp is the capture stamp of the clip's newest
  image (header.frame_id the camera's frame); one status named 'perception' with level OK
  (usable) or ERROR (message: why not, e.g. a frozen camera or a failed inference) and the
  values left, center, right (the scores of the detector's score_source: what to act on),
  motion_score (floats), obstacle and has_reference ('true' or 'false'); with surprise on also
  surprise_score, surprise_left, surprise_center and surprise_right; then where the time since
  capture went, in milliseconds: receive_ms (stamp -> the detector took the newest image),
  wait_ms (-> the worker took the clip), preprocess_ms, encode_ms (the model) and score_ms
  (-> this camera's result).
"""

from dataclasses import dataclass

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from std_msgs.msg import Float32MultiArray, Header, MultiArrayDimension, MultiArrayLayout

from vjepa_nodes.image_messages import stamp_seconds
from vjepa_nodes.perception.config import REGIONS
from vjepa_nodes.perception.message_layout import (
    PERCEPTION_STATUS, perception_values, REGION_DIMENSION, REGION_LABEL, USABLE)

_BOOLEANS = {'true': True, 'false': False}


def region_scores_to_msg(scores: dict[str, float]) -> Float32MultiArray:
    """Pack {'left', 'center', 'right'} scores in the documented order."""
    layout = MultiArrayLayout(dim=[MultiArrayDimension(**REGION_DIMENSION)])
    return Float32MultiArray(layout=layout, data=[float(scores[r]) for r in REGIONS])


def region_scores_from_msg(msg: Float32MultiArray) -> dict[str, float]:
    """Unpack region scores; raise ValueError unless the layout is the documented one."""
    labels = msg.layout.dim[0].label if msg.layout.dim else ''
    if labels != REGION_LABEL or len(msg.data) != len(REGIONS):
        raise ValueError(f"region scores need the layout label '{REGION_LABEL}' and "
                         f"{len(REGIONS)} values, got label '{labels}' and {len(msg.data)}")
    return dict(zip(REGIONS, (float(value) for value in msg.data)))


@dataclass(frozen=True)
class PerceptionReport:
    """The contents of a `perception` message, as read by perception_from_msg."""

    stamp: float  # seconds: capture stamp of the clip's newest image
    region_scores: dict[str, float]
    motion_score: float
    obstacle: bool
    has_reference: bool
    problem: str  # '' when usable
    surprise_score: float | None = None  # None: the detector scores no surprise


def perception_to_msg(header: Header, region_scores: dict[str, float], motion_score: float,
                      obstacle: bool, has_reference: bool, problem: str = '',
                      surprise: dict[str, float] | None = None,
                      timings: dict[str, float] | None = None) -> DiagnosticArray:
    """
    Pack one clip's result; `header` is its newest image's header (stamp, camera frame).

    `timings`: seconds of each stage since capture, by stage name.
    """
    items = [KeyValue(key=key, value=value) for key, value in perception_values(
        region_scores, motion_score, obstacle, has_reference, surprise, timings)]
    status = DiagnosticStatus(
        level=DiagnosticStatus.ERROR if problem else DiagnosticStatus.OK,
        name=PERCEPTION_STATUS, message=problem or USABLE,
        hardware_id=header.frame_id, values=items)
    return DiagnosticArray(header=header, status=[status])


def perception_from_msg(msg: DiagnosticArray) -> PerceptionReport:
    """Unpack a `perception` message; raise ValueError saying what is malformed."""
    found = [status for status in msg.status if status.name == PERCEPTION_STATUS]
    if len(found) != 1:
        raise ValueError(f"perception needs exactly one status named '{PERCEPTION_STATUS}', "
                         f'got {len(found)}')
    status = found[0]
    values = {item.key: item.value for item in status.values}
    try:
        scores = {key: float(values[key]) for key in (*REGIONS, 'motion_score')}
        obstacle, reference = (_BOOLEANS[values[key]] for key in ('obstacle', 'has_reference'))
        surprise = float(values['surprise_score']) if 'surprise_score' in values else None
    except (KeyError, ValueError) as error:
        raise ValueError(f'perception values are incomplete or malformed ({error}): '
                         f'{values}') from None
    usable = status.level == DiagnosticStatus.OK
    problem = '' if usable else (status.message or 'the detector reports a problem')
    return PerceptionReport(stamp_seconds(msg.header), {r: scores[r] for r in REGIONS},
                            scores['motion_score'], obstacle, reference, problem, surprise)
