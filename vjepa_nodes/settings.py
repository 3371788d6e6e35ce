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
Settings with their limits declared once, beside their defaults, in frozen dataclasses.

A config field made with `setting(...)` carries its description, its allowed range or choices
and whether it may change at run time. `check_settings` (called from the configs'
`__post_init__`) refuses values of the wrong type, NaN, infinity and values out of range, with
the name, the value and what is allowed; the ROS layer declares parameters from the same
metadata, so `ros2 param describe` shows the same limits.
"""

from dataclasses import dataclass, Field, field, fields, is_dataclass, replace
import math
import re
from typing import Any

_KEY = 'vjepa_setting'
_TYPE_NAMES = {bool: 'a boolean', int: 'an integer', float: 'a number', str: 'a string',
               tuple: 'a list of names', type(None): 'nothing'}
# A name in a list setting: one ROS name token, so that it can be a topic namespace.
NAME_PATTERN = re.compile(r'[A-Za-z][A-Za-z0-9_]*')


def is_name(name: Any) -> bool:
    """Whether `name` can be one token of a ROS name (no repeated underscores, as ROS says)."""
    return isinstance(name, str) and bool(NAME_PATTERN.fullmatch(name)) and '__' not in name


@dataclass(frozen=True)
class Setting:
    """What a setting means and which values it takes."""

    description: str
    low: float | None = None  # inclusive bounds, for numbers
    high: float | None = None  # lists of names: the most names
    step: int = 0  # integers: allowed values are low + k * step (0: any)
    choices: tuple[str, ...] = ()  # strings: the allowed values (empty: any)
    runtime: bool = False  # may change while running; else only at (re)configuration

    @property
    def names_list(self) -> bool:
        """Whether this is a list of names (made by names_setting)."""
        return self.low is None and self.high is not None

    def check(self, name: str, value: Any, kind: type) -> Any:
        """Return `value` as `kind` (an integer may stand for a float); raise if not allowed."""
        if kind is float and type(value) is int:
            value = float(value)
        if kind is str and type(value) in (int, float) and str(value) in self.choices:
            value = str(value)  # a version such as 2.1 arrives from YAML or -p as a number
        if kind is tuple and isinstance(value, list):
            value = tuple(value)  # ROS and YAML give lists
        if type(value) is not kind:
            raise ValueError(f'{name} must be {_TYPE_NAMES[kind]}, got '
                             f'{_TYPE_NAMES.get(type(value), type(value).__name__)} {value!r}')
        if kind in (int, float):
            allowed = (math.isfinite(value) and self.low <= value <= self.high
                       and not (self.step and (value - self.low) % self.step))
        elif kind is tuple:
            allowed = (len(value) <= self.high and len(set(value)) == len(value)
                       and all(is_name(name) for name in value))
        else:
            allowed = not self.choices or value in self.choices
        if not allowed:
            raise ValueError(f'{name}={value!r} is not allowed: {self.allowed()}')
        return value

    def allowed(self) -> str:
        """Say which values are allowed, in words."""
        if self.choices:
            return f'choose one of {self.limits()}'
        if self.names_list:
            return (f'{self.limits()}, each letters, digits and single underscores starting '
                    'with a letter')
        return 'any value' if self.low is None else f'a finite value from {self.limits()}'

    def limits(self) -> str:
        """Return the choices or the range, briefly ('' for any value)."""
        if self.choices:
            return ', '.join(self.choices)
        if self.names_list:
            return f'up to {self.high:g} distinct names'
        if self.low is None:
            return ''
        return f'{self.low} to {self.high}' + (f' in steps of {self.step}' if self.step else '')


def setting(default: Any, description: str, *, low: float | None = None,
            high: float | None = None, step: int = 0, choices: tuple[str, ...] = (),
            runtime: bool = False) -> Any:
    """Return a dataclass field whose metadata says what the setting means and allows."""
    if isinstance(default, (int, float)) and not isinstance(default, bool) and (
            low is None or high is None):
        raise TypeError(f'a numeric setting needs finite low and high bounds: {description}')
    return field(default=default, metadata={_KEY: Setting(
        description, low, high, step, tuple(choices), runtime)})


def names_setting(description: str, most: int) -> Any:
    """Return a dataclass field: a tuple of up to `most` distinct names, empty by default."""
    return field(default=(), metadata={_KEY: Setting(description, high=most)})


def setting_of(config_field: Field) -> Setting | None:
    """Return the Setting of a dataclass field, None for a field that is not a setting."""
    return config_field.metadata.get(_KEY)


def value_type(config_field: Field) -> type:
    """Return the type a setting must have: its default's (None stands for a string)."""
    return str if config_field.default is None else type(config_field.default)


def flat_settings(config: Any) -> list[tuple[Field, Any]]:
    """Return (field, value) of every setting of `config`, nested configs' included, in order."""
    found = []
    for config_field in fields(config):
        value = getattr(config, config_field.name)
        found += flat_settings(value) if is_dataclass(value) else [(config_field, value)]
    return found


def setting_names(*configs: Any) -> set[str]:
    """Return the names of every setting of `configs` and their nested configs."""
    return {config_field.name for config in configs for config_field, _ in flat_settings(config)}


def with_values(config: Any, values: dict[str, Any]) -> Any:
    """
    Return `config` with settings replaced by name, nested configs' too (checked as made).

    Raises ValueError naming unknown settings, or a value that is not allowed.
    """
    unknown = set(values) - setting_names(config)
    if unknown:
        raise ValueError(f'unknown settings: {", ".join(sorted(unknown))}')
    changes = {}
    for config_field in fields(config):
        current = getattr(config, config_field.name)
        if is_dataclass(current):
            names = setting_names(current)
            changes[config_field.name] = with_values(
                current, {name: value for name, value in values.items() if name in names})
        elif config_field.name in values:
            changes[config_field.name] = values[config_field.name]
    return replace(config, **changes)


def check_settings(config: Any) -> None:
    """Check every setting of a frozen dataclass; integers given for floats become floats."""
    for config_field in fields(config):
        spec = setting_of(config_field)
        value = getattr(config, config_field.name)
        if spec is None or (value is None and config_field.default is None):
            continue
        checked = spec.check(config_field.name, value, value_type(config_field))
        object.__setattr__(config, config_field.name, checked)


def fixed_changes(old: Any, new: Any) -> list[str]:
    """Return the names of settings, also in nested configs, that differ but are not runtime."""
    names = []
    for config_field in fields(old):
        before, after = getattr(old, config_field.name), getattr(new, config_field.name)
        if is_dataclass(before):
            names += fixed_changes(before, after)
        elif before != after and not setting_of(config_field).runtime:
            names.append(config_field.name)
    return names
