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
Launch files and parameter YAML checked without the launch system (it is not on PyPI).

Each LaunchConfiguration is declared, each override argument reaches a parameter its node
declares (with the right type), every YAML key is a declared parameter of the node it names,
and every executable is a console script.
"""

import ast
from pathlib import Path
import re

import pytest
import yaml

pytestmark = pytest.mark.ros
ROOT = Path(__file__).resolve().parents[1]
LAUNCH_FILES = sorted((ROOT / 'launch').glob('*.launch.py'))


@pytest.fixture(scope='module')
def declared():
    """Return {node name: {parameter: type name}} from the real nodes."""
    import rclpy
    from rclpy.context import Context
    from vjepa_nodes.ros.camera_node import CameraNode
    from vjepa_nodes.ros.collision_avoidance_node import CollisionAvoidanceNode
    from vjepa_nodes.ros.obstacle_detector_node import ObstacleDetectorNode
    context = Context()
    rclpy.init(context=context, domain_id=99)
    try:
        nodes = [cls(context=context) for cls in
                 (CameraNode, ObstacleDetectorNode, CollisionAvoidanceNode)]
        table = {node.get_name(): {
            name: node.get_parameter(name).type_.name
            for name in node.list_parameters([], 0).names if name != 'use_sim_time'}
            for node in nodes}
        for node in nodes:
            node.destroy_node()
        return table
    finally:
        rclpy.try_shutdown(context=context)


def _module_constant(tree: ast.Module, name: str):
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == name for t in node.targets):
            return ast.literal_eval(node.value)
    return {}


def _calls(tree: ast.Module, function: str) -> list[ast.Call]:
    return [node for node in ast.walk(tree) if isinstance(node, ast.Call)
            and getattr(node.func, 'id', getattr(node.func, 'attr', None)) == function]


def _keyword(call: ast.Call, name: str):
    return next((ast.literal_eval(k.value) for k in call.keywords if k.arg == name), None)


@pytest.mark.parametrize('path', LAUNCH_FILES, ids=lambda p: p.name)
def test_launch_file_is_consistent(path, declared):
    tree = ast.parse(path.read_text())
    overrides = _module_constant(tree, 'OVERRIDES')
    switches = _module_constant(tree, 'SWITCHES')
    literal_declared = {ast.literal_eval(c.args[0]) for c in _calls(tree, 'DeclareLaunchArgument')
                        if c.args and isinstance(c.args[0], ast.Constant)}
    arguments = literal_declared | set(overrides) | set(switches)
    used = {ast.literal_eval(c.args[0]) for c in _calls(tree, 'LaunchConfiguration')
            if isinstance(c.args[0], ast.Constant)}
    assert used <= arguments, f'undeclared launch arguments: {used - arguments}'
    assert 'generate_launch_description' in {f.name for f in tree.body
                                             if isinstance(f, ast.FunctionDef)}
    for argument, (node, parameter) in overrides.items():
        assert parameter in declared[node], f'{argument} -> {node}.{parameter} is not declared'
    setup = (ROOT / 'setup.py').read_text()
    scripts = set(re.findall(r"'(\w+) = vjepa_nodes\.", setup))
    for call in _calls(tree, 'Node') + _calls(tree, 'LifecycleNode'):
        assert _keyword(call, 'executable') in scripts
        assert _keyword(call, 'name') in declared


@pytest.mark.parametrize('path', sorted((ROOT / 'config').glob('*.yaml')), ids=lambda p: p.name)
def test_every_yaml_key_is_a_declared_parameter(path, declared):
    python_types = {'STRING': str, 'INTEGER': int, 'DOUBLE': float, 'BOOL': bool}
    for key, section in yaml.safe_load(path.read_text()).items():
        # '/**/name' matches the node in any namespace; a bare 'name' would match only '/name'.
        assert key.startswith('/**/'), f'{path.name}: {key} would not match a namespaced node'
        node = key.removeprefix('/**/')
        assert node in declared, f'{path.name}: unknown node {node}'
        parameters = section['ros__parameters']
        for name, value in _flat(parameters):
            camera, dot, own = name.partition('.')
            if dot:  # a camera's own parameter, declared for each camera in `cameras`
                assert camera in parameters.get('cameras', []) and own == 'image_transport', (
                    f'{path.name}: {node} has no parameter {name}')
                continue
            assert name in declared[node], f'{path.name}: {node} has no parameter {name}'
            if isinstance(value, list):  # a list setting: declared with an empty list
                assert declared[node][name].endswith('ARRAY') and all(
                    isinstance(item, str) for item in value), (path.name, name, value)
            else:
                assert type(value) is python_types[declared[node][name]], (path.name, name,
                                                                           value)


def _flat(parameters: dict, prefix: str = ''):
    """Yield (dotted name, value) of nested parameter dictionaries, as ROS names them."""
    for name, value in parameters.items():
        if isinstance(value, dict):
            yield from _flat(value, f'{prefix}{name}.')
        else:
            yield prefix + name, value


def test_setup_installs_launch_and_config_files():
    setup = (ROOT / 'setup.py').read_text()
    assert "glob('launch/*.launch.py')" in setup and "glob('config/*.yaml')" in setup
    assert LAUNCH_FILES and list((ROOT / 'config').glob('*.yaml'))


def test_the_launch_refuses_a_missing_params_file_and_ends_when_a_node_fails():
    # What can be checked without the launch system; README, "Launch", says how it behaves.
    source = (ROOT / 'launch' / 'obstacle_detection.launch.py').read_text()
    tree = ast.parse(source)
    assert 'os.path.isfile(params_file)' in source and 'raise FileNotFoundError' in source
    handlers = _calls(tree, 'OnProcessExit')
    assert len(handlers) == 1 and {k.arg for k in handlers[0].keywords} == {
        'target_action', 'on_exit'}
    loop = next(node for node in ast.walk(tree) if isinstance(node, ast.ListComp)
                and _calls(node, 'OnProcessExit'))
    assert ast.unparse(loop.generators[0].iter) == 'nodes'  # every node is watched
    ender = next(f for f in ast.walk(tree)
                 if isinstance(f, ast.FunctionDef) and f.name == 'end_on_error')
    guard = ast.unparse(ender.body[0].test)
    assert 'event.returncode == 0' in guard and 'context.is_shutdown' in guard
    assert any(isinstance(node, ast.Raise) for node in ast.walk(ender))
