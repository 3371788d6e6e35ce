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

"""camera_node over real DDS: synthetic scene, looping video file, reconnect, bad parameters."""

import time

from conftest import wait_for
import cv2
import numpy as np
import pytest

pytestmark = pytest.mark.ros


def _camera(ros, **settings):
    from rclpy.parameter import Parameter
    from vjepa_nodes.ros.camera_node import CameraNode
    overrides = [Parameter(name, value=value) for name, value in settings.items()]
    return ros.add(CameraNode(context=ros.context, parameter_overrides=overrides))


def _listen(ros, images):
    from rclpy.node import Node
    from rclpy.qos import qos_profile_sensor_data
    from sensor_msgs.msg import Image
    node = ros.add(Node('listener', context=ros.context))
    node.create_subscription(Image, 'image', images.append, qos_profile_sensor_data)


def _write_video(path, frames):
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*'MJPG'), 10, (64, 48))
    for value in frames:
        writer.write(np.full((48, 64, 3), value, np.uint8))
    writer.release()


def test_synthetic_scene_is_published_stamped_and_sized(ros):
    images = []
    _listen(ros, images)
    _camera(ros, width=64, height=48, fps=30.0, encoding='bgr8', frame_id='front_camera')
    assert wait_for(lambda: len(images) >= 5)
    for image in images[:5]:
        assert (image.width, image.height, image.encoding) == (64, 48, 'bgr8')
        assert image.header.frame_id == 'front_camera' and image.step == 64 * 3
        assert len(image.data) == 64 * 48 * 3
    stamps = [m.header.stamp.sec + m.header.stamp.nanosec * 1e-9 for m in images[:5]]
    assert all(b > a for a, b in zip(stamps, stamps[1:])) and stamps[0] > 0


def test_video_file_loops(ros, tmp_path):
    _write_video(tmp_path / 'clip.avi', [0, 120, 240])
    images = []
    _listen(ros, images)
    _camera(ros, source=str(tmp_path / 'clip.avi'), width=64, height=48, fps=30.0)
    assert wait_for(lambda: len(images) >= 7)  # more frames than the file holds
    means = [np.frombuffer(m.data, np.uint8).mean() for m in images[:7]]
    assert max(means) > 200 and min(means) < 20


def test_missing_source_is_retried_until_it_appears(ros, tmp_path):
    images = []
    _listen(ros, images)
    video = tmp_path / 'late.avi'
    _camera(ros, source=str(video), width=64, height=48, fps=30.0)
    assert not wait_for(lambda: images, timeout=1.0)
    _write_video(video, [90, 90])
    assert wait_for(lambda: images, timeout=15.0)  # back-off is at most 8 s


@pytest.mark.parametrize(('name', 'value', 'message'), [
    ('encoding', 'yuv422', "encoding='yuv422' is not allowed: choose one of rgb8, bgr8"),
    ('reliability', 'sometimes', "reliability='sometimes' is not allowed"),
    ('fps', 50, None),  # an integer for a float: taken
    ('width', 64.0, 'width must be an integer, got a number 64.0'),
])
def test_bad_parameters_are_refused_with_the_reason(ros, name, value, message):
    if message is None:
        _camera(ros, **{name: value})
        return
    with pytest.raises(ValueError) as error:
        _camera(ros, **{name: value})
    assert message in str(error.value)


def test_video_file_without_loop_stops_at_its_end(ros, tmp_path):
    _write_video(tmp_path / 'once.avi', [0, 120, 240])
    images = []
    _listen(ros, images)
    _camera(ros, source=str(tmp_path / 'once.avi'), width=64, height=48, fps=5.0, loop=False)
    assert wait_for(lambda: len(images) >= 3)
    time.sleep(1.0)  # a restart would arrive after 0.5 s
    assert len(images) == 3


def _camera_process(ros, **parameters):
    import os
    import subprocess
    from vjepa_nodes.ros.processes import node_process
    return node_process('camera_node', parameters,
                        dict(os.environ, ROS_DOMAIN_ID=str(ros.domain_id)),
                        stderr=subprocess.PIPE, text=True)


def test_the_default_link_delivers_the_camera_rate_and_a_signal_ends_it_cleanly(ros):
    # camera_node with its defaults (640x480 at 15 Hz) as its own process, received with the
    # detector's default image QoS: what the default setup delivers to the detector.
    import signal
    from rclpy.node import Node
    from sensor_msgs.msg import Image
    from vjepa_nodes.ros.node_settings import DetectorNodeSettings
    from vjepa_nodes.ros.camera_io import image_qos
    arrivals = []
    listener = ros.add(Node('detector_side', context=ros.context))
    listener.create_subscription(Image, 'image', lambda m: arrivals.append(time.monotonic()),
                                 image_qos(DetectorNodeSettings()))
    process = _camera_process(ros)
    try:
        assert wait_for(lambda: len(arrivals) >= 5, timeout=30.0)
        time.sleep(4.0)
        window = [t for t in arrivals if t > arrivals[-1] - 4.0]
        rate = (len(window) - 1) / (window[-1] - window[0])
        assert rate > 0.9 * 15.0, f'{rate:.1f} Hz of 15 Hz delivered'
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
    finally:
        process.kill()
    assert 'Traceback' not in process.stderr.read()


def test_a_double_sigint_ends_the_camera_cleanly(ros):
    # Under ros2 launch a Ctrl-C reaches a node twice: from the terminal and from launch.
    import signal
    images = []
    _listen(ros, images)
    process = _camera_process(ros, width=64, height=48)
    try:
        assert wait_for(lambda: images, timeout=30.0)
        process.send_signal(signal.SIGINT)
        time.sleep(0.3)
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=10) == 0
    finally:
        process.kill()
    assert 'Traceback' not in process.stderr.read()
