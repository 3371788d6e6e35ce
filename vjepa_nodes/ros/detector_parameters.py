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

"""Parameters of the obstacle_detector node, mapped onto the core's DetectorConfig."""

from dataclasses import fields

from rcl_interfaces.msg import ParameterDescriptor
from rclpy.node import Node
from rclpy.parameter import Parameter

from vjepa_nodes.perception.detector import DetectorConfig
from vjepa_nodes.perception.scoring import DecisionConfig, ScoringConfig

# name -> description; the defaults come from the config dataclasses.
DETECTOR = {
    'model_size': 'large, huge or giant (tiny and small are test-only)',
    'img_size': 'the model sees about img_size x img_size pixels (multiple of 16)',
    'num_frames': 'frames per clip (even)',
    'stride': 'new frames between analysed clips (may change at run time)',
    'device': 'auto, mps, cuda, cuda:N or cpu',
    'precision': 'auto, fp32, fp16 or bf16',
    'fast_path': 'auto, none, compile, cuda_graph or compile+cuda_graph (auto: all on CUDA)',
    'checkpoint': "official .pt, .safetensors, HF snapshot directory or HF id ('' = none)",
    'checkpoint_key': 'encoder or target_encoder entry of an official .pt',
    'allow_random_weights': 'run without a checkpoint on random weights (scores meaningless)',
    'resize_mode': 'full (whole field of view) or center_crop (official eval transform)',
    'max_gap': 'seconds without frames that restart the clip',
}
SCORING = {
    'change_scale': 'feature change that counts as clearly changed (soft threshold)',
    'common_mode_gain': 'multiple of the frame-wide change removed as lighting/ego-motion',
    'ego_motion_compensation': 'remove the median frame-wide change (camera on a moving robot)',
}
DECISION = {
    'on_threshold': 'motion score at which the obstacle flag turns on (0..1)',
    'off_threshold': 'motion score below which it turns off (0..1)',
    'debounce_clips': 'consecutive clips needed to switch the flag',
}
RUNTIME = {'stride', *SCORING, *DECISION}  # the rest needs cleanup + configure to change
NODE = {  # node-only settings: name -> (default, description)
    'autostart': (True, 'configure and activate on start-up'),
    'image_reliability': ('best_effort', 'image subscription QoS: best_effort or reliable'),
    'image_depth': (1, 'image subscription queue depth'),
}


def declare(node: Node) -> None:
    """Declare every parameter with the core's default."""
    defaults = {**_values(DetectorConfig()), **_values(ScoringConfig()),
                **_values(DecisionConfig())}
    defaults['checkpoint'] = ''
    for table in (DETECTOR, SCORING, DECISION):
        for name, description in table.items():
            node.declare_parameter(name, defaults[name], ParameterDescriptor(
                description=description, read_only=name not in RUNTIME))
    for name, (default, description) in NODE.items():
        node.declare_parameter(name, default, ParameterDescriptor(
            description=description, read_only=True))


def detector_config(node: Node, changes: list[Parameter] = ()) -> DetectorConfig:
    """Build the DetectorConfig from the parameters, with `changes` applied; may raise."""
    values = {name: node.get_parameter(name).value
              for table in (DETECTOR, SCORING, DECISION) for name in table}
    values.update({p.name: p.value for p in changes if p.name in values})
    values['checkpoint'] = values['checkpoint'] or None
    scoring = ScoringConfig(**{name: values.pop(name) for name in SCORING})
    decision = DecisionConfig(**{name: values.pop(name) for name in DECISION})
    config = DetectorConfig(**values, scoring=scoring, decision=decision)
    if config.stride < 1:
        raise ValueError(f'stride must be >= 1, got {config.stride}')
    return config


def _values(config) -> dict:
    return {field.name: getattr(config, field.name) for field in fields(config)
            if not hasattr(getattr(config, field.name), '__dataclass_fields__')}
