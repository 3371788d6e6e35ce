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
vjepa_nodes: V-JEPA 2 video encoder for ROS 2 obstacle perception.

The core is ROS-free: importing it never imports rclpy; the nodes live in `vjepa_nodes.ros`.
"""

from vjepa_nodes.avoidance import (
    AvoidancePolicy, DriveState, Perception, PolicyConfig, VelocityCommand)
from vjepa_nodes.device import (
    Availability, DeviceUnavailableError, resolve_device_and_precision, select_device,
    select_precision)
from vjepa_nodes.encoder import (
    build_encoder, CheckpointError, ENCODER_CONFIGS, RandomWeightsWarning, VJepa2Encoder)
from vjepa_nodes.perception.detector import DetectionResult, DetectorConfig, ObstacleDetector
from vjepa_nodes.perception.preprocessing import FrameError

__all__ = [
    'Availability', 'AvoidancePolicy', 'build_encoder', 'CheckpointError', 'DetectionResult',
    'DetectorConfig', 'DeviceUnavailableError', 'DriveState', 'ENCODER_CONFIGS', 'FrameError',
    'ObstacleDetector', 'Perception', 'PolicyConfig', 'RandomWeightsWarning',
    'resolve_device_and_precision', 'select_device', 'select_precision', 'VelocityCommand',
    'VJepa2Encoder',
]
