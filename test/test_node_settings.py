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

"""Each parameter is declared once: the launch file, the YAML files and the README follow it."""

import ast
from pathlib import Path

from hypothesis import given, strategies as st
import pytest
from vjepa_nodes.ros.node_settings import (
    help_text, markdown_table, NODE_SETTINGS, parameter, parameters, parse_text,
    reference_yaml, TABLE_START, with_tables)
from vjepa_nodes.settings import setting_of, value_type
import yaml

ROOT = Path(__file__).resolve().parents[1]
PRESETS = ('mac_dev.yaml', 'jetson.yaml')


def test_the_readme_tables_are_the_declared_parameters():
    readme = (ROOT / 'README.md').read_text()
    for node in NODE_SETTINGS:
        assert TABLE_START.format(node=node) in readme, f'README has no table for {node}'
    assert with_tables(readme) == readme, (
        'README parameter tables are out of date: python -m vjepa_nodes.ros.node_settings '
        'README.md')


def test_a_table_row_says_type_default_limits_and_run_time():
    rows = markdown_table('obstacle_detector').splitlines()
    assert len(rows) == 2 + len(parameters('obstacle_detector'))
    assert '| `img_size` | int | `256` | 32 to 1024 in steps of 16 |  |' in rows[
        [row.startswith('| `img_size`') for row in rows].index(True)]
    assert any(row.startswith('| `stride` | int | `8` | 1 to 64 | yes |') for row in rows)


def test_the_defaults_file_is_generated_from_the_declarations():
    text = (ROOT / 'config' / 'obstacle_detection.yaml').read_text()
    assert text == reference_yaml(), (
        'python -m vjepa_nodes.ros.node_settings config/obstacle_detection.yaml')
    loaded = yaml.safe_load(text)
    for node in NODE_SETTINGS:
        values = loaded[f'/**/{node}']['ros__parameters']
        # An empty list stays a comment: rcl's parser cannot tell an empty list's type.
        assert values == {field.name: '' if default is None else default
                          for field, default in parameters(node) if default != ()}


@pytest.mark.parametrize('name', PRESETS)
def test_presets_list_only_what_they_change(name):
    for key, section in yaml.safe_load((ROOT / 'config' / name).read_text()).items():
        node = key.removeprefix('/**/')
        for parameter_name, value in section['ros__parameters'].items():
            _, default = parameter(node, parameter_name)
            assert value != default, f'{name}: {node}.{parameter_name} repeats its default'


def test_launch_arguments_take_help_and_limits_from_the_declarations():
    tree = ast.parse((ROOT / 'launch' / 'obstacle_detection.launch.py').read_text())
    overrides = next(ast.literal_eval(node.value) for node in tree.body
                     if isinstance(node, ast.Assign) and node.targets[0].id == 'OVERRIDES')
    for argument, (node, name) in overrides.items():
        config_field, _ = parameter(node, name)
        assert help_text(node, name).startswith(setting_of(config_field).description)
    assert help_text('obstacle_detector', 'img_size').endswith('(32 to 1024 in steps of 16)')
    assert help_text('obstacle_detector', 'device') == setting_of(
        parameter('obstacle_detector', 'device')[0]).description  # no limits to add


def test_the_readme_names_every_launch_argument():
    tree = ast.parse((ROOT / 'launch' / 'obstacle_detection.launch.py').read_text())
    calls = [node for node in ast.walk(tree) if isinstance(node, ast.Call)
             and getattr(node.func, 'id', '') == 'DeclareLaunchArgument']
    declared = {call.args[0].value for call in calls if isinstance(call.args[0], ast.Constant)}
    tables = [ast.literal_eval(node.value) for node in tree.body if isinstance(node, ast.Assign)
              and node.targets[0].id in ('OVERRIDES', 'SWITCHES')]
    names = declared | {name for table in tables for name in table}
    launch_section = (ROOT / 'README.md').read_text().split('## Launch and presets')[1]
    assert {'namespace', 'params_file', 'model_size', 'use_camera'} <= names
    assert not {name for name in names if f'`{name}`' not in launch_section}


def test_launch_argument_text_becomes_a_checked_value():
    assert parse_text('obstacle_detector', 'img_size', '224') == 224
    assert parse_text('obstacle_detector', 'allow_random_weights', 'True') is True
    assert parse_text('collision_avoidance', 'cruise_speed', '1') == 1.0
    assert parse_text('camera', 'source', '0') == '0'
    for node, name, text, message in (
            ('obstacle_detector', 'img_size', 'big', "img_size:='big' is not int"),
            ('obstacle_detector', 'img_size', '200', 'in steps of 16'),
            ('obstacle_detector', 'allow_random_weights', 'yes', 'is not bool'),
            ('obstacle_detector', 'model_size', 'medium', 'choose one of large'),
            ('collision_avoidance', 'cruise_speed', 'nan', 'a finite value'),
            ('collision_avoidance', 'cruise_speed', 'inf', 'a finite value')):
        with pytest.raises(ValueError, match=message):
            parse_text(node, name, text)
    with pytest.raises(KeyError, match='camera has no parameter'):
        parse_text('camera', 'img_size', '256')


@given(st.sampled_from([(node, field) for node in NODE_SETTINGS
                        for field, _ in parameters(node)]), st.text(max_size=12))
def test_any_launch_text_is_a_checked_value_or_a_named_refusal(entry, text):
    node, config_field = entry
    try:
        value = parse_text(node, config_field.name, text)
    except ValueError as error:
        assert config_field.name in str(error)
    else:
        assert type(value) is value_type(config_field)
        assert setting_of(config_field).check(config_field.name, value, type(value)) == value


def test_the_detector_node_fixes_the_channel_order_itself():
    # It converts every image to RGB: a parameter could only swap the colours.
    assert 'channel_order' not in {field.name for field, _ in parameters('obstacle_detector')}
    assert '&#124;linear&#124;' in markdown_table('collision_avoidance')  # a | breaks no row
