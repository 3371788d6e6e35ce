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

"""obstacle_detector with three cameras over DDS: one raw, one compressed (JPEG), one silent."""

import time

from conftest import wait_for
import cv2
import pytest
from vjepa_nodes.synthetic import MovingObject, SyntheticScene

pytestmark = pytest.mark.ros
SETTINGS = {'model_size': 'tiny', 'img_size': 64, 'num_frames': 4, 'stride': 2,
            'allow_random_weights': True, 'device': 'cpu', 'precision': 'fp32',
            'cameras': ['front', 'left', 'rear'], 'left.image_transport': 'compressed',
            'max_image_age': 0.5}
LIVE = ('front', 'left')


class ThreeCameras:
    """The detector node; a peer publishing front (raw) and left (JPEG), listening to all."""

    def __init__(self, ros) -> None:
        from diagnostic_msgs.msg import DiagnosticArray
        from rclpy.node import Node
        from rclpy.parameter import Parameter
        from rclpy.qos import QoSProfile, ReliabilityPolicy
        from sensor_msgs.msg import CompressedImage, Image
        from std_msgs.msg import Float32
        from vjepa_nodes.ros.obstacle_detector_node import ObstacleDetectorNode
        self.node = ros.add(ObstacleDetectorNode(
            context=ros.context,
            parameter_overrides=[Parameter(k, value=v) for k, v in SETTINGS.items()]))
        self.peer = ros.add(Node('peer', context=ros.context))
        qos = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
        self.front = self.peer.create_publisher(Image, 'front/image', qos)
        self.left = self.peer.create_publisher(CompressedImage, 'left/image/compressed', qos)
        self.scores = {name: [] for name in SETTINGS['cameras']}
        self.perception = {name: [] for name in SETTINGS['cameras']}
        for name in SETTINGS['cameras']:
            self.peer.create_subscription(Float32, f'{name}/motion_score',
                                          self.scores[name].append, qos)
            self.peer.create_subscription(DiagnosticArray, f'{name}/perception',
                                          self.perception[name].append, qos)
        self.diagnostics = []
        self.peer.create_subscription(DiagnosticArray, '/diagnostics',
                                      self.diagnostics.append, qos)
        # (when it was published, output, camera, image stamp) of perception and heat maps
        self.published = []
        for name in LIVE:
            for output, kind in (('perception', DiagnosticArray), ('heatmap', Image)):
                self.peer.create_subscription(
                    kind, f'{name}/{output}',
                    lambda msg, info, key=(output, name): self.published.append(
                        (info['source_timestamp'], *key,
                         msg.header.stamp.sec * 10**9 + msg.header.stamp.nanosec)), qos)
        self.scene = {'front': SyntheticScene(96, 64, (MovingObject(20, 30, 20, vx=60),), 1),
                      'left': SyntheticScene(96, 64, (MovingObject(70, 30, 20, vx=-60),), 2)}
        self.stamps = {name: set() for name in LIVE}

    def start(self) -> None:
        from rclpy.lifecycle import TransitionCallbackReturn
        assert self.node.trigger_configure() == TransitionCallbackReturn.SUCCESS
        assert self.node.trigger_activate() == TransitionCallbackReturn.SUCCESS
        assert wait_for(lambda: self.front.get_subscription_count() == 1
                        and self.left.get_subscription_count() == 1)

    def send(self, count: int, bad_jpeg: bytes | None = None) -> None:
        """Publish `count` frames of each live camera at 20 Hz, stamps offset per camera."""
        from rclpy.duration import Duration
        from sensor_msgs.msg import CompressedImage
        from std_msgs.msg import Header
        from vjepa_nodes.ros.image_conversions import frame_to_image
        for i in range(count):
            now = self.peer.get_clock().now()
            front = Header(frame_id='front', stamp=now.to_msg())
            left = Header(frame_id='left',
                          stamp=(now - Duration(nanoseconds=7_000_000)).to_msg())
            t = i / 20
            self.front.publish(frame_to_image(self.scene['front'].frame(t), 'rgb8', front))
            if bad_jpeg is not None:
                self.left.publish(CompressedImage(header=left, format='jpeg', data=bad_jpeg))
                time.sleep(0.01)  # read before the good frame replaces it (image_depth 1)
            ok, jpeg = cv2.imencode('.jpg', self.scene['left'].frame(t)[..., ::-1])
            self.left.publish(CompressedImage(header=left, format='rgb8; jpeg compressed bgr8',
                                              data=jpeg.tobytes()))
            for name, header in (('front', front), ('left', left)):
                self.stamps[name].add((header.stamp.sec, header.stamp.nanosec))
            time.sleep(0.05)

    def status(self, camera: str):
        """Return the newest diagnostic status of `camera`, None before the first."""
        for array in reversed(self.diagnostics):
            for status in array.status:
                if status.name.endswith(f'camera {camera}'):
                    return status
        return None

    def value(self, camera: str, key: str) -> str | None:
        status = self.status(camera)
        return None if status is None else {kv.key: kv.value for kv in status.values}.get(key)


def test_each_camera_has_its_own_outputs_stamps_and_diagnostics(ros):
    from diagnostic_msgs.msg import DiagnosticStatus
    rig = ThreeCameras(ros)
    rig.start()
    rig.send(16)
    assert wait_for(lambda: all(len(rig.scores[name]) >= 2 for name in LIVE))
    assert not rig.scores['rear'] and not rig.perception['rear']
    for name in LIVE:  # stamped with that camera's own image stamps
        stamps = {(m.header.stamp.sec, m.header.stamp.nanosec) for m in rig.perception[name]}
        assert stamps and stamps <= rig.stamps[name]
    assert not rig.stamps['front'] & rig.stamps['left']
    assert wait_for(lambda: rig.status('rear') is not None
                    and 'stale: no usable images on rear/image' in rig.status('rear').message)
    assert rig.status('rear').level == DiagnosticStatus.WARN
    assert rig.value('left', 'image topic') == 'left/image/compressed'


def test_a_batch_publishes_every_perception_before_any_heat_map(ros):
    from vjepa_nodes.perception.detector import ObstacleDetector
    rig = ThreeCameras(ros)
    rig.start()
    # A batch of both live cameras, from a detector of the same settings (the node's own worker
    # would take its clips one camera at a time as the frames trickle in over DDS).
    detector = ObstacleDetector(stagger_clips=False,
                                **{key: value for key, value in SETTINGS.items()
                                   if '.' not in key and key != 'max_image_age'})
    for index in range(4):
        for name in LIVE:
            detector.add_frame(rig.scene[name].frame(index / 20), index / 20, name)
    results = detector.detect_all().results
    assert set(results) == set(LIVE)
    rig.node._publish_batch(results, {})
    assert wait_for(lambda: len(rig.published) == 4)
    outputs = [output for _, output, _, _ in sorted(rig.published)]
    assert outputs == ['perception', 'perception', 'heatmap', 'heatmap']


def test_a_malformed_compressed_frame_is_rejected_while_the_others_flow(ros):
    rig = ThreeCameras(ros)
    rig.start()
    rig.send(16, bad_jpeg=b'\xff\xd8\xff' + bytes(64))  # a JPEG header, then nothing
    assert wait_for(lambda: all(len(rig.scores[name]) >= 2 for name in LIVE))
    left = rig.node.cameras['left']  # image_depth 1: some bad ones are replaced unread
    assert wait_for(lambda: left.rejected >= 4) and rig.node.cameras['front'].rejected == 0
    assert wait_for(lambda: rig.value('left', 'rejected messages') == str(left.rejected))


@pytest.mark.parametrize(('cameras', 'moves'), [(['front', 'left', 'rear'], False),
                                                (['front', 'left'], True)])
def test_collision_avoidance_needs_every_camera_it_reads(ros, cameras, moves):
    from rclpy.parameter import Parameter
    from rclpy.qos import QoSProfile, ReliabilityPolicy
    from std_msgs.msg import String
    from vjepa_nodes.ros.collision_avoidance_node import CollisionAvoidanceNode
    rig = ThreeCameras(ros)
    ros.add(CollisionAvoidanceNode(context=ros.context, parameter_overrides=[
        Parameter('cameras', value=cameras), Parameter('start_latched', value=False),
        Parameter('estop_heartbeat', value=0.0),
        Parameter('max_perception_age', value=2.0), Parameter('timeout', value=2.0)]))
    states = []
    rig.peer.create_subscription(String, 'avoidance_state', states.append,
                                 QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE))
    rig.start()
    rig.send(24)
    assert wait_for(lambda: all(len(rig.scores[name]) >= 2 for name in LIVE))
    if moves:  # both cameras it reads are fresh: the front one steers
        assert wait_for(lambda: not states[-1].data.startswith('STOP_STALE'))
    else:  # never moved
        assert wait_for(lambda: states[-1].data == 'STOP_STALE: camera rear: no perception yet')
        assert all(state.data.startswith('STOP_STALE') for state in states)
