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
Node parameters declared from the core's setting dataclasses (vjepa_nodes.settings).

The configs of each node are listed once, in vjepa_nodes.ros.node_settings. Each parameter gets
its description, range or choices and read-only flag from the setting, so
`ros2 param describe` and rqt show the limits the core enforces. Parameters are declared with
dynamic typing so that the core's check, which names the types (`cruise_speed must be a
number, got a string 'fast'`), answers a wrong type, and an integer is taken for a float.
"""

from dataclasses import Field, fields, is_dataclass, replace
from typing import TypeVar

from rcl_interfaces.msg import (
    FloatingPointRange, IntegerRange, ParameterDescriptor, SetParametersResult)
from rclpy.node import Node
from rclpy.parameter import Parameter

from vjepa_nodes.ros.node_settings import parameters, UNDECLARED
from vjepa_nodes.settings import setting_of, value_type

Config = TypeVar('Config')
_FIXED_BY_NODES = {name for names in UNDECLARED.values() for name in names}


def declare_settings(node: Node, node_name: str) -> None:
    """Declare every parameter of `node_name` (see node_settings.parameters), with its default."""
    for config_field, value in parameters(node_name):
        node.declare_parameter(config_field.name, '' if value is None else value,
                               descriptor(config_field))


def descriptor(config_field: Field) -> ParameterDescriptor:
    """Return the descriptor of a setting: description, limits, read-only unless runtime."""
    spec, kind = setting_of(config_field), value_type(config_field)
    result = ParameterDescriptor(description=spec.description, read_only=not spec.runtime,
                                 dynamic_typing=True, additional_constraints=spec.allowed())
    if kind is float:
        result.floating_point_range = [FloatingPointRange(
            from_value=float(spec.low), to_value=float(spec.high), step=0.0)]
    elif kind is int:
        result.integer_range = [IntegerRange(
            from_value=int(spec.low), to_value=int(spec.high), step=spec.step)]
    return result


def settings_from_parameters(node: Node, config: Config,
                             changes: list[Parameter] = ()) -> Config:
    """
    Return `config` with its declared settings read from the node's parameters, `changes` in.

    Settings that a node fixes itself (node_settings.UNDECLARED) keep their values in `config`
    where the node does not declare them; any other missing parameter raises.

    Raises ValueError (from the config's own checks) naming the setting, its value and what
    is allowed.
    """
    changed = {parameter.name: parameter.value for parameter in changes}
    values = {}
    for config_field in fields(config):
        current = getattr(config, config_field.name)
        if is_dataclass(current):
            values[config_field.name] = settings_from_parameters(node, current, changes)
            continue
        name = config_field.name
        if name in _FIXED_BY_NODES and not node.has_parameter(name):
            continue
        value = changed[name] if name in changed else node.get_parameter(name).value
        values[name] = None if config_field.default is None and value == '' else value
    return replace(config, **values)


def result(reason: str) -> SetParametersResult:
    """Accept when `reason` is empty, else reject with it."""
    return SetParametersResult(successful=not reason, reason=reason)
