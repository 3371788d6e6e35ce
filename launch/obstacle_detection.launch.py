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
Camera (optional), V-JEPA 2 obstacle detector and collision avoidance (optional).

    ros2 launch vjepa_nodes obstacle_detection.launch.py model_size:=large device:=cuda
    ros2 launch vjepa_nodes obstacle_detection.launch.py \
        params_file:=$(ros2 pkg prefix vjepa_nodes)/share/vjepa_nodes/config/jetson.yaml
    ros2 launch vjepa_nodes obstacle_detection.launch.py cameras:=front,left,right

With cameras (the `cameras` argument, else the detector's `cameras` in params_file) one
detector serves them all, collision_avoidance reads each of them (unless params_file gives it
its own list), and use_camera starts one camera node per camera, in namespace <camera>.

Values come from the nodes' own defaults, then `params_file`, then any launch argument given
here (an empty argument leaves the value alone). The detector configures and activates itself
(its `autostart` parameter); drive it by hand with `ros2 lifecycle` after autostart:=false.
A `params_file` that does not exist is an error, and a node that exits with an error (e.g. a
detector that cannot load its model) ends the whole launch with exit code 1: the other nodes
are stopped as on Ctrl-C, so collision_avoidance sends its final zero command.
"""

import os

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, OpaqueFunction, RegisterEventHandler
from launch.conditions import IfCondition
from launch.event_handlers import OnProcessExit
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import LifecycleNode, Node
from launch_ros.substitutions import FindPackageShare
from vjepa_nodes.ros.node_settings import file_parameters, help_text, parse_text

# Launch argument -> (node, parameter). Empty by default: the value from the node's default or
# params_file stands. Help text, type and limits come from the parameter's one declaration.
OVERRIDES = {
    'model_version': ('obstacle_detector', 'model_version'),
    'model_size': ('obstacle_detector', 'model_size'),
    'img_size': ('obstacle_detector', 'img_size'),
    'num_frames': ('obstacle_detector', 'num_frames'),
    'stride': ('obstacle_detector', 'stride'),
    'device': ('obstacle_detector', 'device'),
    'precision': ('obstacle_detector', 'precision'),
    'fast_path': ('obstacle_detector', 'fast_path'),
    'backend': ('obstacle_detector', 'backend'),
    'engine_path': ('obstacle_detector', 'engine_path'),
    'checkpoint': ('obstacle_detector', 'checkpoint'),
    'allow_random_weights': ('obstacle_detector', 'allow_random_weights'),
    'surprise': ('obstacle_detector', 'surprise'),
    'predictor_checkpoint': ('obstacle_detector', 'predictor_checkpoint'),
    'score_source': ('obstacle_detector', 'score_source'),
    'camera_source': ('camera', 'source'),
    'cameras': ('obstacle_detector', 'cameras'),
    'estop_heartbeat': ('collision_avoidance', 'estop_heartbeat'),
    'start_latched': ('collision_avoidance', 'start_latched'),
}
SWITCHES = {  # launch argument -> (default, choices, description)
    'use_camera': ('true', ['true', 'false'], 'start camera_node (else bring your own image)'),
    'use_avoidance': ('true', ['true', 'false'], 'start collision_avoidance'),
    'large_images': ('false', ['true', 'false'],
                     'give the nodes started here config/fastdds_large_images.xml: Fast DDS '
                     'shared memory for images over 512 KB (README, "Large images on one '
                     'machine"); a camera driver started elsewhere needs it too'),
}
# Fast DDS 2 (Humble, Jazzy) reads a profile only from FASTRTPS_DEFAULT_PROFILES_FILE; Fast DDS 3
# (Kilted) from FASTDDS_DEFAULT_PROFILES_FILE, and warns in every node about the old name.
FAST_DDS_2_DISTROS = ('humble', 'jazzy')


def _nodes(context):
    """Create the nodes once the argument values are known."""
    namespace = LaunchConfiguration('namespace').perform(context)
    params_file = LaunchConfiguration('params_file').perform(context)
    if not os.path.isfile(params_file):  # launch_ros would only warn and run with defaults
        raise FileNotFoundError(f'params_file {params_file!r} does not exist')
    overrides = {'camera': {}, 'obstacle_detector': {}, 'collision_avoidance': {}}
    for argument, (node, parameter) in OVERRIDES.items():
        text = LaunchConfiguration(argument).perform(context)
        if text != '':  # a bad value stops the launch here, with the parameter's limits
            value = parse_text(node, parameter, text)
            overrides[node][parameter] = list(value) if isinstance(value, tuple) else value
    given = file_parameters(params_file)
    cameras = overrides['obstacle_detector'].get(
        'cameras', given.get('obstacle_detector', {}).get('cameras', []))
    if cameras and 'cameras' not in given.get('collision_avoidance', {}):
        overrides['collision_avoidance']['cameras'] = cameras
    use_camera = IfCondition(LaunchConfiguration('use_camera'))
    env = _dds_environment(context)
    nodes = [
        Node(package='vjepa_nodes', executable='camera_node', name='camera',
             namespace='/'.join(filter(None, (namespace, camera))),
             parameters=[params_file, {**({'seed': index} if camera else {}),
                                       **overrides['camera']}],
             condition=use_camera, additional_env=env)
        for index, camera in enumerate(cameras or [''])]
    nodes += [
        LifecycleNode(package='vjepa_nodes', executable='obstacle_detector',
                      name='obstacle_detector', namespace=namespace,
                      parameters=[params_file, overrides['obstacle_detector']],
                      additional_env=env),
        Node(package='vjepa_nodes', executable='collision_avoidance',
             name='collision_avoidance', namespace=namespace,
             parameters=[params_file, overrides['collision_avoidance']],
             condition=IfCondition(LaunchConfiguration('use_avoidance')), additional_env=env),
    ]
    end_on_error = _launch_ender()
    return nodes + [RegisterEventHandler(OnProcessExit(target_action=node, on_exit=end_on_error))
                    for node in nodes]


def _dds_environment(context) -> dict:
    """Return the environment that large_images adds to the nodes (Fast DDS's profile)."""
    if LaunchConfiguration('large_images').perform(context) != 'true':
        return {}
    profile = PathJoinSubstitution([FindPackageShare('vjepa_nodes'), 'config',
                                    'fastdds_large_images.xml']).perform(context)
    fast_dds_2 = os.environ.get('ROS_DISTRO') in FAST_DDS_2_DISTROS
    return {'FASTRTPS_DEFAULT_PROFILES_FILE' if fast_dds_2 else 'FASTDDS_DEFAULT_PROFILES_FILE':
            profile}


def _launch_ender():
    """Return an on_exit handler that ends the launch with an error when a node fails."""
    ended = []  # set by the first failure: two failing together end the launch once

    def end_on_error(event, context):
        if event.returncode == 0 or context.is_shutdown or ended:
            return None  # a clean exit, or one that a shutdown already in progress caused
        ended.append(event.process_name)
        # Raising is how a launch file makes `ros2 launch` exit 1; launch then stops the other
        # nodes as on Ctrl-C.
        raise RuntimeError(f'{event.process_name} exited with code {event.returncode} (its log '
                           'above says why): stopping the launch')
    return end_on_error


def generate_launch_description() -> LaunchDescription:
    arguments = [
        DeclareLaunchArgument('namespace', default_value='',
                              description='namespace of all nodes and topics'),
        DeclareLaunchArgument(
            'params_file',
            default_value=PathJoinSubstitution(
                [FindPackageShare('vjepa_nodes'), 'config', 'obstacle_detection.yaml']),
            description='parameter YAML (config/: obstacle_detection, mac_dev, jetson)'),
    ]
    arguments += [DeclareLaunchArgument(name, default_value='',
                                        description=help_text(node, parameter))
                  for name, (node, parameter) in OVERRIDES.items()]
    arguments += [DeclareLaunchArgument(name, default_value=default, choices=choices,
                                        description=description)
                  for name, (default, choices, description) in SWITCHES.items()]
    return LaunchDescription([*arguments, OpaqueFunction(function=_nodes)])
