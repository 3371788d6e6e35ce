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

from glob import glob

from setuptools import find_packages, setup

package_name = 'vjepa_nodes'

# The ROS 2 wheels from PyPI, for machines without a ROS distro (a sourced ROS install has them).
ros_wheels = ['ros-rclpy[fastrtps]', 'ros-sensor-msgs', 'ros-std-msgs', 'ros-geometry-msgs',
              'ros-diagnostic-msgs', 'ros-lifecycle-msgs', 'ros-std-srvs']

setup(
    name=package_name,
    version='0.1.0',
    packages=find_packages(exclude=['test']),
    data_files=[
        ('share/ament_index/resource_index/packages', ['resource/' + package_name]),
        ('share/' + package_name, ['package.xml']),
        ('share/' + package_name + '/launch', glob('launch/*.launch.py')),
        ('share/' + package_name + '/config', glob('config/*.yaml') + glob('config/*.xml')),
    ],
    # Runtime Python dependencies live in requirements.txt, not here: colcon-built entry points
    # check install_requires at start-up, and apt's python3-opencv does not satisfy
    # 'opencv-python', so listing them would break `ros2 run` on a ROS install.
    install_requires=['setuptools'],
    # 'test' is how colcon knows to run the tests with pytest.
    # onnx: vjepa-export and the onnxruntime backend (a Jetson takes NVIDIA's onnxruntime-gpu).
    extras_require={'ros': ros_wheels,
                    'onnx': ['onnx>=1.16', 'onnxscript>=0.3', 'onnxruntime>=1.18'],
                    'bag': ['rosbags>=0.11'],
                    # backend mlx: Metal on macOS; the CPU build on Linux (tests, no speed).
                    'mlx': ['mlx>=0.31.2; sys_platform == "darwin"',
                            'mlx[cpu]>=0.31.2; sys_platform == "linux"'],
                    'test': ['pytest']},
    python_requires='>=3.10',
    zip_safe=True,
    maintainer='vjepa_nodes maintainers',
    maintainer_email='maintainers@vjepa-nodes.dev',
    description='V-JEPA 2 video transformer nodes for ROS 2 obstacle perception.',
    license='Apache-2.0',
    entry_points={
        'console_scripts': [
            'encoder_demo = vjepa_nodes.tools.encoder_demo:main',
            'vjepa-benchmark = vjepa_nodes.tools.benchmark:main',
            'vjepa-export = vjepa_nodes.tools.export:main',
            'camera_node = vjepa_nodes.ros.camera_node:main',
            'collision_avoidance = vjepa_nodes.ros.collision_avoidance_node:main',
            'obstacle_detector = vjepa_nodes.ros.obstacle_detector_node:main',
            'demo = vjepa_nodes.ros.demo:main',
            'vjepa-soak = vjepa_nodes.ros.soak_benchmark:main',
            'vjepa-bag = vjepa_nodes.tools.bag:main',
            'vjepa-train-predictor = vjepa_nodes.tools.train_predictor:main',
            'vjepa-doctor = vjepa_nodes.tools.doctor:main',
        ],
    },
)
