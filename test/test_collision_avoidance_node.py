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

"""collision_avoidance over real DDS: commands per state, watchdog, e-stop, parameters."""

import time

from conftest import wait_for
import pytest

pytestmark = pytest.mark.ros


class Rig:
    """The avoidance node plus a fake detector and a cmd_vel listener on one ROS domain."""

    def __init__(self, ros, **settings) -> None:
        from geometry_msgs.msg import Twist, TwistStamped
        from rclpy.node import Node
        from rclpy.parameter import Parameter
        from rclpy.qos import QoSProfile, ReliabilityPolicy
        from std_msgs.msg import Bool, Float32MultiArray, String
        from vjepa_nodes.ros.collision_avoidance_node import CollisionAvoidanceNode
        qos = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
        self.node = ros.add(CollisionAvoidanceNode(context=ros.context, parameter_overrides=[
            Parameter(name, value=value) for name, value in settings.items()]))
        self.peer = ros.add(Node('peer', context=ros.context))
        self.scores = self.peer.create_publisher(Float32MultiArray, 'region_scores', qos)
        self.obstacle = self.peer.create_publisher(Bool, 'obstacle', qos)
        self.estop = self.peer.create_publisher(Bool, 'estop', qos)
        self.commands, self.states = [], []
        command_type = TwistStamped if settings.get('stamped') else Twist
        self.peer.create_subscription(command_type, 'cmd_vel', self._on_command, qos)
        self.peer.create_subscription(String, 'avoidance_state', self._on_state, qos)
        self._bool = Bool
        assert wait_for(lambda: self.scores.get_subscription_count() == 1
                        and self.peer.count_publishers('cmd_vel') == 1)

    def _on_command(self, msg) -> None:
        self.commands.append((time.monotonic(), msg))

    def _on_state(self, msg) -> None:
        self.states.append((time.monotonic(), msg.data))

    def detect(self, left=0.0, center=0.0, right=0.0, obstacle=False) -> None:
        from vjepa_nodes.ros.score_messages import region_scores_to_msg
        self.scores.publish(region_scores_to_msg({'left': left, 'center': center,
                                                  'right': right}))
        self.obstacle.publish(self._bool(data=obstacle))

    def state_after(self, since: float) -> str | None:
        later = [state for at, state in self.states if at > since]
        return later[-1] if later else None


def _twist(message):
    return getattr(message, 'twist', message)


def _feed_until(rig, state, timeout=5.0, **scores):
    start = time.monotonic()
    deadline = start + timeout
    while time.monotonic() < deadline:
        rig.detect(**scores)
        time.sleep(0.05)
        current = rig.state_after(start)
        if current and current.startswith(state):
            return True
    return False


def test_clear_cruises_then_stops_within_the_timeout_when_the_detector_stops(ros):
    rig = Rig(ros, timeout=0.3, max_linear_accel=100.0)
    assert _feed_until(rig, 'CLEAR')
    assert _twist(rig.commands[-1][1]).linear.x == pytest.approx(0.3)
    silent_since = time.monotonic()
    assert wait_for(lambda: (rig.state_after(silent_since + 0.3) or '').startswith('STOP_STALE'),
                    timeout=2.0)
    stopped_at = next(at for at, state in rig.states
                      if at > silent_since and state.startswith('STOP_STALE'))
    assert stopped_at - silent_since < 0.3 + 0.25  # timeout plus a tick and delivery
    latest = _twist(rig.commands[-1][1])
    assert (latest.linear.x, latest.angular.z) == (0.0, 0.0)


def test_danger_ahead_turns_toward_the_clearer_side(ros):
    rig = Rig(ros, max_angular_accel=100.0)
    assert _feed_until(rig, 'AVOID', left=0.4, center=0.5, right=0.0, obstacle=True)
    twist = _twist(rig.commands[-1][1])
    assert twist.linear.x == 0.0 and twist.angular.z < 0  # right is clearer


def test_estop_stops_at_once(ros):
    rig = Rig(ros, rate=0.2, max_linear_accel=100.0)  # 5 s ticks: only the e-stop path is fast
    assert _feed_until(rig, 'CLEAR', timeout=12.0)
    pressed = time.monotonic()
    rig.estop.publish(rig._bool(data=True))
    assert wait_for(lambda: (rig.state_after(pressed) or '').startswith('ESTOP'), timeout=0.4)
    assert _twist(rig.commands[-1][1]).linear.x == 0.0


def test_stamped_commands_carry_frame_and_time(ros):
    rig = Rig(ros, stamped=True, frame_id='base_footprint')
    assert _feed_until(rig, 'CLEAR')
    message = rig.commands[-1][1]
    assert message.header.frame_id == 'base_footprint' and message.header.stamp.sec > 0


def test_policy_parameters_are_validated_at_run_time(ros):
    from rclpy.parameter import Parameter
    rig = Rig(ros)
    bad = rig.node.set_parameters([Parameter('caution_score', value=0.9)])[0]
    assert not bad.successful and 'caution_score < danger_score' in bad.reason
    assert rig.node.get_parameter('caution_score').value == 0.05
    good = rig.node.set_parameters([Parameter('cruise_speed', value=0.2),
                                    Parameter('max_linear_accel', value=100.0)])[0]
    assert good.successful
    assert _feed_until(rig, 'CLEAR')
    assert _twist(rig.commands[-1][1]).linear.x == pytest.approx(0.2)


def test_malformed_region_scores_are_ignored(ros):
    from std_msgs.msg import Float32MultiArray
    rig = Rig(ros)
    for _ in range(6):  # clear values, but not in the documented layout
        rig.scores.publish(Float32MultiArray(data=[0.0, 0.0, 0.0]))
        rig.obstacle.publish(rig._bool(data=False))
        time.sleep(0.05)
    assert wait_for(lambda: len(rig.states) >= 3)
    assert all(state.startswith('STOP_STALE') for _, state in rig.states)


def test_interrupted_node_commands_zero_before_exiting(ros, tmp_path):
    import os
    import signal
    import subprocess
    import sys
    env = dict(os.environ, ROS_DOMAIN_ID=str(ros.domain_id))
    rig = Rig(ros, max_linear_accel=100.0)
    ros.executor.remove_node(rig.node)  # the in-process node steps aside for a real process
    rig.node.destroy_node()
    ros.nodes.remove(rig.node)
    process = subprocess.Popen(
        [sys.executable, '-c', 'from vjepa_nodes.ros.collision_avoidance_node import main; '
         'main()', '--ros-args', '-p', 'max_linear_accel:=100.0'], env=env)
    try:
        assert _feed_until(rig, 'CLEAR', timeout=20.0)
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=10) == 0
    finally:
        process.kill()
    last = _twist(rig.commands[-1][1])
    assert (last.linear.x, last.angular.z) == (0.0, 0.0)
    assert wait_for(lambda: rig.states[-1][1].startswith('STOP_STALE: shutting down'))
