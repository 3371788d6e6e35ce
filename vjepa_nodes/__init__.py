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
The names below are imported on first use: torch loads only with the encoder or the detector.
"""

from vjepa_nodes.lazy_exports import lazy_exports

_EXPORTS = {
    **dict.fromkeys(('AvoidancePolicy', 'DriveState', 'Perception', 'PolicyConfig',
                     'VelocityCommand'), 'vjepa_nodes.avoidance'),
    **dict.fromkeys(('Availability', 'DeviceUnavailableError', 'resolve_device_and_precision',
                     'select_device', 'select_precision'), 'vjepa_nodes.device'),
    **dict.fromkeys(('build_encoder', 'CheckpointError', 'ENCODER_CONFIGS',
                     'RandomWeightsWarning', 'VJepa2Encoder'), 'vjepa_nodes.encoder'),
    **dict.fromkeys(('DetectionResult', 'ObstacleDetector'), 'vjepa_nodes.perception.detector'),
    'DetectorConfig': 'vjepa_nodes.perception.config',
    'EStopConfig': 'vjepa_nodes.estop',
    'FrameError': 'vjepa_nodes.perception.preprocessing',
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
