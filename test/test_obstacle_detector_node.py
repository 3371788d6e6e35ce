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

"""obstacle_detector over DDS (tiny model): outputs, QoS, bad images, lifecycle, parameters."""

import time

from conftest import wait_for
import pytest
from vjepa_nodes.synthetic import MovingObject, SyntheticScene

pytestmark = pytest.mark.ros
SETTINGS = {'model_size': 'tiny', 'img_size': 64, 'num_frames': 4, 'stride': 2,
            'allow_random_weights': True, 'device': 'cpu', 'precision': 'fp32'}
OUTPUTS = ('motion_score', 'region_scores', 'obstacle', 'heatmap', 'debug_image',
           '/diagnostics')


class Rig:
    """The detector node, a camera publisher and listeners for every output."""

    def __init__(self, ros, camera_reliability='best_effort', **settings) -> None:
        from diagnostic_msgs.msg import DiagnosticArray
        from rclpy.node import Node
        from rclpy.parameter import Parameter
        from rclpy.qos import QoSProfile, ReliabilityPolicy
        from sensor_msgs.msg import Image
        from std_msgs.msg import Bool, Float32, Float32MultiArray
        from vjepa_nodes.ros.obstacle_detector_node import ObstacleDetectorNode
        overrides = [Parameter(k, value=v) for k, v in {**SETTINGS, **settings}.items()]
        self.node = ros.add(ObstacleDetectorNode(context=ros.context,
                                                 parameter_overrides=overrides))
        self.peer = ros.add(Node('peer', context=ros.context))
        reliability = {'best_effort': ReliabilityPolicy.BEST_EFFORT,
                       'reliable': ReliabilityPolicy.RELIABLE}[camera_reliability]
        self.camera = self.peer.create_publisher(Image, 'image',
                                                 QoSProfile(depth=1, reliability=reliability))
        self.out = {name: [] for name in OUTPUTS}
        qos = QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE)
        for name, kind in zip(OUTPUTS, (Float32, Float32MultiArray, Bool, Image, Image,
                                        DiagnosticArray)):
            self.peer.create_subscription(kind, name, self.out[name].append, qos)
        self.scene = SyntheticScene(96, 64, (MovingObject(20, 30, 20, vx=60),), seed=1)
        self.headers = []

    def start_configured(self) -> None:
        from rclpy.lifecycle import TransitionCallbackReturn
        assert self.node.trigger_configure() == TransitionCallbackReturn.SUCCESS
        assert self.node.trigger_activate() == TransitionCallbackReturn.SUCCESS

    def start(self) -> None:
        self.start_configured()
        assert wait_for(lambda: self.camera.get_subscription_count() == 1)

    def send(self, count: int, start: float = 100.0, bad=None) -> None:
        """Publish `count` frames at 20 Hz (and `bad` messages between them)."""
        from std_msgs.msg import Header
        from vjepa_nodes.ros.image_conversions import frame_to_image
        for i in range(count):
            t = start + i / 20
            header = Header(frame_id='front_camera')
            header.stamp.sec, header.stamp.nanosec = int(t), int(round(t % 1 * 1e9)) % 10**9
            if bad is not None:
                self.camera.publish(bad)
            self.camera.publish(frame_to_image(self.scene.frame(t), 'rgb8', header))
            self.headers.append(header)
            time.sleep(0.05)


@pytest.mark.parametrize('camera_reliability', ['best_effort', 'reliable'])
def test_frames_in_scores_flag_heatmap_and_diagnostics_out(ros, camera_reliability):
    from diagnostic_msgs.msg import DiagnosticStatus
    rig = Rig(ros, camera_reliability)
    rig.start()
    rig.send(16)
    assert wait_for(lambda: len(rig.out['region_scores']) >= 2 and rig.out['/diagnostics'])
    regions = rig.out['region_scores'][-1]
    assert regions.layout.dim[0].label == 'left,center,right' and len(regions.data) == 3
    assert all(0.0 <= s.data < 1.0 for s in rig.out['motion_score'])
    assert len(rig.out['obstacle']) >= len(rig.out['motion_score'])
    heatmap = rig.out['heatmap'][-1]
    assert (heatmap.encoding, heatmap.width, heatmap.height) == ('32FC1', 96, 64)
    assert heatmap.header.frame_id == 'front_camera'
    sent = {(h.stamp.sec, h.stamp.nanosec) for h in rig.headers}
    assert (heatmap.header.stamp.sec, heatmap.header.stamp.nanosec) in sent
    assert wait_for(lambda: any(
        'inference rate (Hz)' in {kv.key for kv in array.status[0].values}
        and array.status[0].level == DiagnosticStatus.WARN  # random weights
        for array in rig.out['/diagnostics']), timeout=3.0)
    values = {kv.key: kv.value for kv in rig.out['/diagnostics'][-1].status[0].values}
    assert values['device'] == 'cpu' and values['precision'] == 'fp32'
    assert values['weights source'].startswith('RANDOM')


def test_debug_overlay_only_for_subscribers(ros):
    rig = Rig(ros)
    rig.start()
    assert wait_for(lambda: rig.node._outputs['debug_image'].get_subscription_count() == 1)
    rig.send(8)
    assert wait_for(lambda: rig.out['debug_image'])
    overlay = rig.out['debug_image'][-1]
    assert (overlay.encoding, overlay.width, overlay.height) == ('rgb8', 96, 64)


def test_malformed_images_are_rejected_and_the_node_keeps_serving(ros):
    from sensor_msgs.msg import Image
    rig = Rig(ros)
    rig.start()
    bad = [Image(height=64, width=96, encoding='yuv422', step=192, data=bytes(192 * 64)),
           Image(height=64, width=96, encoding='rgb8', step=288, data=bytes(100)),
           Image(height=0, width=96, encoding='rgb8', step=288, data=b'')]
    for message in bad:
        rig.send(3, start=100.0 + len(rig.headers) / 20, bad=message)
    rig.send(8, start=100.0 + len(rig.headers) / 20)
    assert wait_for(lambda: len(rig.out['region_scores']) >= 2)
    assert rig.node._rejected >= 3


def test_lifecycle_loads_on_configure_and_releases_on_cleanup(ros):
    from rclpy.lifecycle import TransitionCallbackReturn as Result
    rig = Rig(ros)
    assert rig.camera.get_subscription_count() == 0  # unconfigured: nothing subscribed
    assert rig.node.trigger_configure() == Result.SUCCESS
    assert rig.node._detector is not None and rig.camera.get_subscription_count() == 0
    assert rig.node.trigger_activate() == Result.SUCCESS
    assert wait_for(lambda: rig.camera.get_subscription_count() == 1)
    assert rig.node.trigger_deactivate() == Result.SUCCESS
    assert wait_for(lambda: rig.camera.get_subscription_count() == 0)
    assert rig.node._detector is not None  # the model stays loaded while inactive
    assert rig.node.trigger_cleanup() == Result.SUCCESS
    assert rig.node._detector is None
    assert rig.node.trigger_configure() == Result.SUCCESS  # and comes back


def test_bad_configuration_fails_configure_with_the_reason(ros):
    from rclpy.lifecycle import TransitionCallbackReturn as Result
    rig = Rig(ros, allow_random_weights=False)  # and no checkpoint
    assert rig.node.trigger_configure() == Result.FAILURE


def test_parameter_updates_are_validated(ros):
    from rclpy.parameter import Parameter
    rig = Rig(ros)
    rig.start()
    bad = rig.node.set_parameters([Parameter('off_threshold', value=0.5)])[0]
    assert not bad.successful and 'off_threshold <= on_threshold' in bad.reason
    assert rig.node.get_parameter('off_threshold').value == 0.05
    assert not rig.node.set_parameters([Parameter('stride', value=0)])[0].successful
    read_only = rig.node.set_parameters([Parameter('model_size', value='large')])[0]
    assert not read_only.successful
    assert rig.node.set_parameters([Parameter('on_threshold', value=0.3),
                                    Parameter('stride', value=3)])[0].successful
    assert rig.node._detector.decision.config.on_threshold == 0.3
    assert rig.node._detector.buffer.stride == 3


def test_incompatible_camera_qos_is_reported(ros):
    rig = Rig(ros, camera_reliability='best_effort', image_reliability='reliable')
    rig.start_configured()
    assert wait_for(lambda: rig.node.incompatible_qos_events > 0, timeout=5.0)


def test_shutdown_from_active_stops_cleanly(ros):
    from rclpy.lifecycle import TransitionCallbackReturn as Result
    rig = Rig(ros)
    rig.start()
    rig.send(4)
    assert rig.node.trigger_shutdown() == Result.SUCCESS
    assert rig.node._detector is None and rig.node._worker is None
    assert wait_for(lambda: rig.camera.get_subscription_count() == 0)
    rig.send(2)  # nobody listens any more; nothing may fail


def test_the_node_process_logs_the_core_messages_to_ros(ros):
    # Device choice, weights and compilation progress come from the core's Python logger; the
    # executable forwards them to /rosout, where launch files and rqt_console show them.
    import os
    import subprocess
    import sys
    from rcl_interfaces.msg import Log
    from rclpy.node import Node
    from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
    listener = ros.add(Node('rosout_listener', context=ros.context))
    messages = []
    listener.create_subscription(
        Log, '/rosout', lambda msg: messages.append((msg.name, msg.msg)),
        QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE,
                   durability=DurabilityPolicy.TRANSIENT_LOCAL))
    arguments = [f'{name}:={value}' for name, value in {**SETTINGS, 'device': 'cpu'}.items()]
    command = [sys.executable, '-c', 'from vjepa_nodes.ros.obstacle_detector_node import main; '
               'main()', '--ros-args'] + [item for arg in arguments for item in ('-p', arg)]
    process = subprocess.Popen(command, env=dict(os.environ, ROS_DOMAIN_ID=str(ros.domain_id)))
    try:
        assert wait_for(lambda: any(
            'compute on cpu in fp32' in text and name == 'obstacle_detector'
            for name, text in messages), timeout=30.0), messages
    finally:
        process.terminate()
        process.wait(timeout=10)
