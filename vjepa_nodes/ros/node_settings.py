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
Every node's parameters, in one place: the nodes, the launch file and the README read them here.

A node declares one parameter per setting of its configs (see vjepa_nodes.settings): its own
settings below, then the core's. This module imports neither rclpy nor torch, so a launch file
can take its argument help from it and a test can check the README's tables against it.
"""

import argparse
from dataclasses import dataclass, Field
import json
from pathlib import Path
import re
import sys
import textwrap
from typing import Any

from vjepa_nodes.avoidance import PolicyConfig
from vjepa_nodes.estop import EStopConfig
from vjepa_nodes.perception.config import DetectorConfig, MAX_CAMERAS
from vjepa_nodes.settings import (
    check_settings, flat_settings, names_setting, setting, setting_of, value_type)
from vjepa_nodes.synthetic import SYNTHETIC

IMAGE_RELIABILITIES = ('auto', 'reliable', 'best_effort')
IMAGE_TRANSPORTS = ('raw', 'compressed')  # image_transport's plugin names


@dataclass(frozen=True)
class CameraSettings:
    """What camera_node publishes, and how."""

    source: str = setting(SYNTHETIC, 'synthetic, a webcam index (0), a video file path or a '
                          'stream URL')
    fps: float = setting(15.0, 'frames per second to publish', low=0.1, high=240.0)
    width: int = setting(640, 'published image width, pixels', low=16, high=8192)
    height: int = setting(480, 'published image height, pixels', low=16, high=8192)
    frame_id: str = setting('camera', 'header.frame_id of every image')
    encoding: str = setting('rgb8', 'image encoding', choices=('rgb8', 'bgr8'))
    loop: bool = setting(True, 'restart a video file at its end')
    seed: int = setting(0, 'random seed of the synthetic scene', low=0, high=2**31 - 1)
    reliability: str = setting(
        'reliable', 'publisher QoS reliability (best_effort loses large images on a busy link)',
        choices=('reliable', 'best_effort'))

    def __post_init__(self) -> None:
        check_settings(self)


@dataclass(frozen=True)
class DetectorNodeSettings:
    """How obstacle_detector takes images in; what it detects is DetectorConfig's."""

    autostart: bool = setting(True, 'configure and activate on start-up')
    image_transport: str = setting(
        'raw', 'how images arrive: raw (sensor_msgs/Image on image) or compressed '
        '(CompressedImage, JPEG or PNG, on image/compressed); a named camera may override it '
        'with <camera>.image_transport', choices=IMAGE_TRANSPORTS)
    image_reliability: str = setting(
        'auto', 'image subscription QoS reliability; auto: reliable, and best effort once a '
        'best-effort camera appears (best effort loses large images on one host)',
        choices=IMAGE_RELIABILITIES)
    image_depth: int = setting(1, 'image subscription queue depth', low=1, high=100)
    max_image_age: float = setting(
        1.0, 'images captured longer ago than this on arrival are dropped, s', low=0.01,
        high=60.0, runtime=True)
    stamp_tolerance: float = setting(
        0.1, 'images stamped further ahead of this clock than this are dropped, s', low=0.0,
        high=1.0, runtime=True)

    def __post_init__(self) -> None:
        check_settings(self)


@dataclass(frozen=True)
class AvoidanceNodeSettings:
    """collision_avoidance's own settings, beside the policy's and the e-stop's."""

    cameras: tuple[str, ...] = names_setting(
        "the detector's cameras to read, <name>/perception each: the first steers, the others "
        'can only slow or stop the robot (watch_response), and each must be fresh; empty: one '
        'camera on perception', MAX_CAMERAS)
    rate: float = setting(20.0, 'command rate, Hz', low=1.0, high=200.0)
    command_on_perception: bool = setting(
        True, 'also command at once when a perception arrives, so that a new clip reaches the '
        'wheels without waiting up to 1/rate for the next tick; false: commands at rate only')
    stamped: bool = setting(False, 'publish geometry_msgs/TwistStamped instead of Twist')
    frame_id: str = setting('base_link', 'header.frame_id of stamped commands')

    def __post_init__(self) -> None:
        check_settings(self)


# README sections between these markers hold markdown_table(node); `main` rewrites them.
TABLE_START, TABLE_END = '<!-- parameters: {node} (generated) -->', '<!-- end parameters -->'
# Node name -> the configs whose settings are its parameters, in declaration order.
NODE_SETTINGS: dict[str, tuple[type, ...]] = {
    'camera': (CameraSettings,),
    'obstacle_detector': (DetectorNodeSettings, DetectorConfig),
    'collision_avoidance': (AvoidanceNodeSettings, PolicyConfig, EStopConfig),
}
# Settings a node fixes itself instead of declaring: the detector node converts every image to
# RGB, so a channel_order parameter could only swap the colours.
UNDECLARED = {'obstacle_detector': ('channel_order',)}
_TYPE_WORDS = {bool: 'bool', int: 'int', float: 'float', str: 'string', tuple: 'string list'}


def parameters(node: str) -> list[tuple[Field, Any]]:
    """Return (field, default) of every parameter `node` declares."""
    return [(config_field, default) for config in NODE_SETTINGS[node]
            for config_field, default in flat_settings(config())
            if config_field.name not in UNDECLARED.get(node, ())]


def parameter(node: str, name: str) -> tuple[Field, Any]:
    """Return (field, default) of one parameter; KeyError names the node's parameters."""
    found = {config_field.name: (config_field, default)
             for config_field, default in parameters(node)}
    if name not in found:
        raise KeyError(f'{node} has no parameter {name!r}; it has {", ".join(found)}')
    return found[name]


def help_text(node: str, name: str) -> str:
    """Return a parameter's description and allowed values, e.g. for a launch argument."""
    config_field, _ = parameter(node, name)
    spec = setting_of(config_field)
    return f'{spec.description} ({spec.limits()})' if spec.limits() else spec.description


def file_parameters(path: str | Path) -> dict[str, dict]:
    """
    Return {node name: parameters} of a ROS parameter file ('/**/name' or 'name' keys).

    Raises yaml.YAMLError for a file that is not YAML, OSError for one that cannot be read.
    """
    import yaml
    with open(path) as file:
        sections = yaml.safe_load(file) or {}
    return {key.rsplit('/', 1)[-1]: section.get('ros__parameters', {})
            for key, section in sections.items() if isinstance(section, dict)}


def parse_text(node: str, name: str, text: str) -> Any:
    """
    Return a parameter's value from text (a launch argument), checked against its limits.

    Raises ValueError naming the parameter, the text and what is allowed.
    """
    config_field, _ = parameter(node, name)
    kind = value_type(config_field)
    try:
        if kind is bool:
            if text.lower() not in ('true', 'false'):
                raise ValueError('expected true or false')
            value = text.lower() == 'true'
        elif kind is tuple:  # 'front,left' or '[front, left]'
            value = tuple(item.strip().strip('\'"') for item in text.strip().strip('[]').split(',')
                          if item.strip())
        else:
            value = kind(text)
    except ValueError:
        raise ValueError(f'{name}:={text!r} is not {_TYPE_WORDS[kind]}') from None
    return setting_of(config_field).check(name, value, kind)


def markdown_table(node: str) -> str:
    """Return the README's table of `node`'s parameters."""
    lines = ['| parameter | type | default | allowed | changes at run time | description |',
             '| --- | --- | --- | --- | --- | --- |']
    for config_field, default in parameters(node):
        spec = setting_of(config_field)
        shown = "''" if default is None else json.dumps(default).strip('"')
        lines.append(f'| `{config_field.name}` | {_TYPE_WORDS[value_type(config_field)]} | '
                     f'`{shown}` | {spec.limits()} | {"yes" if spec.runtime else ""} | '
                     f"{spec.description.replace('|', '&#124;')} |")
    return '\n'.join(lines)


def reference_yaml() -> str:
    """Return a parameter file with every parameter of every node at its default."""
    lines = [
        '# Every parameter of the three nodes at its default, to copy and edit; launch arguments',
        "# override it. Generated from the parameters' declarations by",
        '#   python -m vjepa_nodes.ros.node_settings config/obstacle_detection.yaml',
        '# (a test keeps it current). The presets beside it list only what they change.',
        "# '/**/name' applies to the node in any namespace."]
    for node in NODE_SETTINGS:
        lines += [f'/**/{node}:', '  ros__parameters:']
        for config_field, default in parameters(node):
            value = '' if default is None else default
            shown = json.dumps(value) if isinstance(value, (bool, str, tuple)) else repr(value)
            lines += textwrap.wrap(help_text(node, config_field.name), 99,
                                   initial_indent='    # ', subsequent_indent='    # ')
            if value == ():  # rcl's parser refuses an empty list: it cannot tell its type
                lines.append(f'    # {config_field.name}: [] (the default; a parameter file '
                             'cannot hold an empty list)')
            else:
                lines.append(f'    {config_field.name}: {shown}')
    return '\n'.join(lines) + '\n'


def with_tables(text: str) -> str:
    """Return `text` with every marked parameter table replaced by the current one."""
    def table(match: re.Match) -> str:
        return f'{match[1]}\n{markdown_table(match[2])}\n{TABLE_END}'
    start = re.escape(TABLE_START).replace(re.escape('{node}'), r'(\w+)')
    return re.sub(f'({start})\n.*?{re.escape(TABLE_END)}', table, text, flags=re.DOTALL)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(
        "Rewrite what is generated from the parameters' declarations: the parameter tables "
        'of a markdown file (the README), or a whole .yaml parameter file (every default).'))
    parser.add_argument('path', type=Path)
    parser.add_argument('--check', action='store_true',
                        help='change nothing; exit 1 if the file is out of date')
    args = parser.parse_args(argv)
    text = args.path.read_text() if args.path.exists() else ''
    updated = reference_yaml() if args.path.suffix == '.yaml' else with_tables(text)
    if args.check:
        return int(updated != text)
    args.path.write_text(updated)
    return 0


if __name__ == '__main__':
    sys.exit(main())
