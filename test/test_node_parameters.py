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

"""Every numeric parameter of every node has a finite range, enforced where it is declared."""

import math

import pytest

pytestmark = pytest.mark.ros
NODES = ('camera_node:CameraNode', 'collision_avoidance_node:CollisionAvoidanceNode',
         'obstacle_detector_node:ObstacleDetectorNode')


def _node_class(spec: str):
    import importlib
    module, name = spec.split(':')
    return getattr(importlib.import_module(f'vjepa_nodes.ros.{module}'), name)


def _numeric_parameters(ros, spec):
    """(name, descriptor, default) of each numeric parameter a default-built node declares."""
    from rcl_interfaces.msg import ParameterType
    node = _node_class(spec)(context=ros.context)
    try:
        found = []
        for name in node._parameters:
            value = node.get_parameter(name).value
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                continue
            descriptor = node.describe_parameter(name)
            found.append((name, descriptor, value))
        assert all(d.type in (ParameterType.PARAMETER_INTEGER, ParameterType.PARAMETER_DOUBLE)
                   for _, d, _ in found)
        return found
    finally:
        node.destroy_node()


@pytest.mark.parametrize('spec', NODES)
def test_every_numeric_parameter_is_refused_out_of_range_at_start(ros, spec):
    from rclpy.exceptions import ParameterException
    from rclpy.parameter import Parameter
    own = {'use_sim_time', 'start_type_description_service'}  # rclpy's, not ours
    checked = []
    for name, descriptor, default in _numeric_parameters(ros, spec):
        if name in own:
            continue
        ranges = list(descriptor.floating_point_range) + list(descriptor.integer_range)
        assert len(ranges) == 1, f'{spec} parameter {name} has no declared range'
        low, high = ranges[0].from_value, ranges[0].to_value
        assert math.isfinite(low) and math.isfinite(high) and low <= default <= high
        bad = [high + 1, low - 1] if isinstance(default, int) else \
            [float('nan'), float('inf'), float('-inf'), high * 2 + 1, low - 1]
        for value in bad:
            with pytest.raises((ParameterException, ValueError)) as error:
                _node_class(spec)(context=ros.context,
                                  parameter_overrides=[Parameter(name, value=value)])
            assert name in str(error.value), (spec, name, value, str(error.value))
        checked.append(name)
    assert len(checked) >= 4, checked


@pytest.mark.parametrize('spec', NODES)
def test_run_time_changes_are_refused_out_of_range_with_the_reason(ros, spec):
    from rclpy.parameter import Parameter
    node = ros.add(_node_class(spec)(context=ros.context, parameter_overrides=[
        Parameter('start_latched', value=False)]))
    runtime = [name for name in node._parameters
               if not node.describe_parameter(name).read_only
               and node.describe_parameter(name).floating_point_range]
    for name in runtime:
        before = node.get_parameter(name).value
        for value in (float('nan'), float('inf'), -1e9, 'fast'):
            outcome = node.set_parameters([Parameter(name, value=value)])[0]
            assert not outcome.successful, (name, value)
            assert name in outcome.reason or 'out of range' in outcome.reason
            if value == 'fast':
                assert outcome.reason == f"{name} must be a number, got a string 'fast'"
        assert node.get_parameter(name).value == before
    if spec.startswith('camera'):
        assert runtime == []  # all read-only: the camera is configured at start
    else:
        assert len(runtime) >= 3


def test_read_only_parameters_are_refused_at_run_time(ros):
    from rclpy.parameter import Parameter
    node = ros.add(_node_class(NODES[2])(context=ros.context))
    outcome = node.set_parameters([Parameter('img_size', value=128)])[0]
    assert not outcome.successful and 'read-only' in outcome.reason
