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

"""Node processes stay on this machine, in their own domain unless told one."""

from vjepa_nodes.ros.processes import parameter_arguments, private_dds_env


def test_private_dds_env_keeps_discovery_local_and_picks_a_domain():
    env = private_dds_env({'PATH': '/bin'})
    assert env['ROS_AUTOMATIC_DISCOVERY_RANGE'] == 'LOCALHOST'
    assert 1 <= int(env['ROS_DOMAIN_ID']) <= 100 and 'ROS_LOCALHOST_ONLY' not in env
    assert private_dds_env({'ROS_DOMAIN_ID': '42'})['ROS_DOMAIN_ID'] == '42'
    assert private_dds_env({'ROS_DISTRO': 'humble'})['ROS_LOCALHOST_ONLY'] == '1'


def test_parameters_become_ros_arguments():
    assert parameter_arguments({'start_latched': False, 'fps': 8.0, 'source': 'synthetic'}) == [
        '-p', 'start_latched:=false', '-p', 'fps:=8.0', '-p', 'source:=synthetic']
