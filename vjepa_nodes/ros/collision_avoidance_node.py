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
collision_avoidance: the avoidance policy at a fixed rate, from the detector's outputs to cmd_vel.

Subscribes `region_scores` (Float32MultiArray, see score_messages), `obstacle` (Bool) and
`estop` (Bool, True = engaged); publishes `cmd_vel` (Twist, or TwistStamped with
`stamped:=true`) and `avoidance_state` (String). Everything is timed on the steady clock, so the
watchdog also works under simulated time.
"""

from dataclasses import fields
import signal

from geometry_msgs.msg import Twist, TwistStamped
from rcl_interfaces.msg import ParameterDescriptor
import rclpy
from rclpy.clock import Clock, ClockType
from rclpy.duration import Duration
from rclpy.executors import ExternalShutdownException
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy
from rclpy.signals import SignalHandlerOptions
from std_msgs.msg import Bool, Float32MultiArray, String

from vjepa_nodes.avoidance import (
    AvoidancePolicy, DriveState, Perception, PolicyConfig, VelocityCommand)
from vjepa_nodes.ros.parameters import config_update, declare_config, result
from vjepa_nodes.ros.score_messages import region_scores_from_msg

POLICY_DESCRIPTIONS = {
    'cruise_speed': 'forward speed when clear, m/s',
    'turn_speed': 'turn rate when avoiding, rad/s',
    'caution_score': 'region score at which to start slowing down (0..1)',
    'danger_score': 'centre score that means danger ahead (0..1)',
    'timeout': 'perception older than this stops the robot, s',
    'max_linear_speed': 'limit on |linear|, m/s',
    'max_angular_speed': 'limit on |angular|, rad/s',
    'max_linear_accel': 'limit on speeding up, m/s^2',
    'max_angular_accel': 'limit on turning up, rad/s^2',
    'control_period': 'longest step the acceleration limits allow for, s',
}
RELIABLE = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE)
# Best effort accepts reliable and best-effort publishers alike: an e-stop must always connect.
ANY_PUBLISHER = QoSProfile(depth=1, reliability=ReliabilityPolicy.BEST_EFFORT)


class CollisionAvoidanceNode(Node):
    """Turn the detector's region scores and obstacle flag into velocity commands."""

    def __init__(self, **kwargs) -> None:
        super().__init__('collision_avoidance', **kwargs)
        read_only = ParameterDescriptor(read_only=True)
        self._rate = self.declare_parameter('rate', 20.0, read_only).value
        self._stamped = self.declare_parameter('stamped', False, read_only).value
        self._frame_id = self.declare_parameter('frame_id', 'base_link', read_only).value
        self._steady = Clock(clock_type=ClockType.STEADY_TIME)
        self._policy = AvoidancePolicy(
            declare_config(self, PolicyConfig(), POLICY_DESCRIPTIONS), self._now)
        self.add_on_set_parameters_callback(self._on_set_parameters)
        self._scores: tuple[dict[str, float], float] | None = None  # (scores, received at)
        self._obstacle: tuple[bool, float] | None = None
        self._estop = False
        self._cmd_pub = self.create_publisher(
            TwistStamped if self._stamped else Twist, 'cmd_vel', RELIABLE)
        self._state_pub = self.create_publisher(String, 'avoidance_state', RELIABLE)
        self.create_subscription(Float32MultiArray, 'region_scores', self._on_scores, RELIABLE)
        self.create_subscription(Bool, 'obstacle', self._on_obstacle, RELIABLE)
        self.create_subscription(Bool, 'estop', self._on_estop, ANY_PUBLISHER)
        self.create_timer(1.0 / self._rate, self._on_timer, clock=self._steady)

    def _now(self) -> float:
        return self._steady.now().nanoseconds * 1e-9

    def _on_scores(self, msg: Float32MultiArray) -> None:
        try:
            self._scores = (region_scores_from_msg(msg), self._now())
        except ValueError as error:
            self.get_logger().error(f'ignoring region scores: {error}',
                                    throttle_duration_sec=5.0)

    def _on_obstacle(self, msg: Bool) -> None:
        self._obstacle = (msg.data, self._now())

    def _on_estop(self, msg: Bool) -> None:
        self._estop = msg.data
        if self._estop:
            self._on_timer()  # stop now, not at the next tick

    def _on_timer(self) -> None:
        self._publish(self._policy.step(self._perception(), self._estop))

    def _perception(self) -> Perception | None:
        if self._scores is None or self._obstacle is None:
            return None
        (scores, scores_at), (obstacle, obstacle_at) = self._scores, self._obstacle
        return Perception(scores, obstacle, min(scores_at, obstacle_at))

    def _publish(self, command: VelocityCommand) -> None:
        twist = Twist()
        twist.linear.x, twist.angular.z = command.linear, command.angular
        if self._stamped:
            message = TwistStamped(twist=twist)
            message.header.stamp = self.get_clock().now().to_msg()
            message.header.frame_id = self._frame_id
            self._cmd_pub.publish(message)
        else:
            self._cmd_pub.publish(twist)
        self._state_pub.publish(String(data=f'{command.state.value}: {command.reason}'))

    def _on_set_parameters(self, parameters):
        policy_fields = {field.name for field in fields(PolicyConfig)}
        if not any(p.name in policy_fields for p in parameters):
            return result('')
        config, reason = config_update(self._policy.config, parameters)
        if config is not None:
            self._policy.config = config
        return result(reason)

    def stop(self) -> None:
        """Command zero velocity once, e.g. before shutting down, and wait for its delivery."""
        self._publish(VelocityCommand(0.0, 0.0, DriveState.STOP_STALE, 'shutting down'))
        # Destroying a publisher right away can drop what reliable subscribers have not acked.
        for publisher in (self._cmd_pub, self._state_pub):
            publisher.wait_for_all_acked(Duration(seconds=0.5))


def _raise_interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def main(args: list[str] | None = None) -> None:
    # Handle Ctrl-C and SIGTERM ourselves, so the context is still up to send the final zero.
    rclpy.init(args=args, signal_handler_options=SignalHandlerOptions.NO)
    signal.signal(signal.SIGTERM, _raise_interrupt)
    node = None
    try:
        node = CollisionAvoidanceNode()
        rclpy.spin(node)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        if node is not None:
            try:
                node.stop()
            finally:
                node.destroy_node()
        rclpy.try_shutdown()
