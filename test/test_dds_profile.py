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

"""config/fastdds_large_images.xml: Fast DDS reads it, and camera-sized images go through."""

from pathlib import Path
import subprocess
import sys

import pytest

pytestmark = pytest.mark.ros

PROFILE = Path(__file__).resolve().parents[1] / 'config' / 'fastdds_large_images.xml'
PUBLISHER = """
import time, numpy as np, rclpy
from sensor_msgs.msg import Image
from std_msgs.msg import Header
from vjepa_nodes.ros.image_conversions import frame_to_image
rclpy.init()
node = rclpy.create_node('large_image_publisher')
publisher = node.create_publisher(Image, 'image', 1)
image = frame_to_image(np.full((480, 640, 3), 7, np.uint8), 'rgb8', Header())
deadline = time.monotonic() + 20
while time.monotonic() < deadline:
    publisher.publish(image)
    time.sleep(0.1)
"""
SUBSCRIBER = """
import rclpy
from sensor_msgs.msg import Image
rclpy.init()
node = rclpy.create_node('large_image_subscriber')
got = []
node.create_subscription(Image, 'image', got.append, 1)
while not got:
    rclpy.spin_once(node, timeout_sec=0.1)
print('received', got[0].height, got[0].width, len(got[0].data), set(got[0].data[:99]))
"""


def _env(domain_id: int, profile: Path) -> dict:
    import os
    from vjepa_nodes.ros.processes import private_dds_env
    # FASTDDS_... for Fast DDS 3 (Kilted), FASTRTPS_... for 2.x (Humble, Jazzy).
    return private_dds_env({**os.environ, 'ROS_DOMAIN_ID': str(domain_id),
                            'FASTDDS_DEFAULT_PROFILES_FILE': str(profile),
                            'FASTRTPS_DEFAULT_PROFILES_FILE': str(profile)})


def test_a_vga_image_goes_through_the_large_image_profile(ros, tmp_path):
    env = _env(ros.domain_id, PROFILE)
    publisher = subprocess.Popen([sys.executable, '-c', PUBLISHER], env=env,
                                 stderr=subprocess.PIPE, text=True)
    try:
        subscriber = subprocess.run([sys.executable, '-c', SUBSCRIBER], env=env,
                                    capture_output=True, text=True, timeout=30)
    finally:
        publisher.kill()
        publisher_errors = publisher.communicate()[1]
    assert subscriber.stdout.strip() == 'received 480 640 921600 {7}', subscriber.stderr
    for errors in (subscriber.stderr, publisher_errors):
        assert 'XMLPARSER' not in errors and 'rror' not in errors, errors
    # The same environment makes this distro's Fast DDS read the file: a broken copy is refused.
    broken = tmp_path / 'broken.xml'
    broken.write_text(PROFILE.read_text().replace('<type>SHM</type>', '<type>SHMX</type>'))
    created = subprocess.run(
        [sys.executable, '-c', 'import rclpy; rclpy.init(); rclpy.create_node("x")'],
        env=_env(ros.domain_id, broken), capture_output=True, text=True, timeout=30)
    assert "Invalid transport type: 'SHMX'" in created.stdout + created.stderr  # 2.x: stdout
