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
Region scores as std_msgs/Float32MultiArray with a labelled layout.

One dimension of size 3 whose label names the regions in order: 'left,center,right'. The
detector publishes them only for clips that have a reference clip, so a restarting camera reads
as silence (and the avoidance node stops) rather than as an all-clear.
"""

from std_msgs.msg import Float32MultiArray, MultiArrayDimension, MultiArrayLayout

from vjepa_nodes.perception.scoring import REGIONS

REGION_LABEL = ','.join(REGIONS)


def region_scores_to_msg(scores: dict[str, float]) -> Float32MultiArray:
    """Pack {'left', 'center', 'right'} scores in the documented order."""
    layout = MultiArrayLayout(dim=[MultiArrayDimension(
        label=REGION_LABEL, size=len(REGIONS), stride=len(REGIONS))])
    return Float32MultiArray(layout=layout, data=[float(scores[r]) for r in REGIONS])


def region_scores_from_msg(msg: Float32MultiArray) -> dict[str, float]:
    """Unpack region scores; raise ValueError unless the layout is the documented one."""
    labels = msg.layout.dim[0].label if msg.layout.dim else ''
    if labels != REGION_LABEL or len(msg.data) != len(REGIONS):
        raise ValueError(f"region scores need the layout label '{REGION_LABEL}' and "
                         f"{len(REGIONS)} values, got label '{labels}' and {len(msg.data)}")
    return dict(zip(REGIONS, (float(value) for value in msg.data)))
