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

"""Parameters declared from a core config dataclass, so each default lives in one place."""

from dataclasses import fields, replace
from typing import Any, TypeVar

from rcl_interfaces.msg import ParameterDescriptor, SetParametersResult
from rclpy.node import Node
from rclpy.parameter import Parameter

Config = TypeVar('Config')


def declare_config(node: Node, config: Config, descriptions: dict[str, str]) -> Config:
    """
    Declare one parameter per field of `config`, whose value is the default.

    Return the config built from the parameters' values, which launch files and YAML may
    override.
    """
    for field in fields(config):
        node.declare_parameter(field.name, getattr(config, field.name),
                               ParameterDescriptor(description=descriptions[field.name]))
    return replace(config, **{f.name: node.get_parameter(f.name).value for f in fields(config)})


def config_update(config: Config, parameters: list[Parameter]) -> tuple[Config | None, str]:
    """Return (updated config, '') or (None, reason) for a `ros2 param set` on config fields."""
    names = {field.name for field in fields(config)}
    changes: dict[str, Any] = {p.name: p.value for p in parameters if p.name in names}
    try:
        return replace(config, **changes), ''
    except (TypeError, ValueError) as error:
        return None, str(error)


def result(reason: str) -> SetParametersResult:
    """Accept when `reason` is empty, else reject with it."""
    return SetParametersResult(successful=not reason, reason=reason)
