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
collision_avoidance: the avoidance policy, from the detector's results to cmd_vel.

Subscribes `perception` (diagnostic_msgs/DiagnosticArray, see score_messages: the scores of a
clip stamped with its newest image's capture time; with `cameras`, `<camera>/perception` of
each) and `estop` (std_msgs/Bool, True = engaged; see ESTOP_QOS); offers `reset_estop`
(std_srvs/Trigger); publishes `cmd_vel` (Twist, or TwistStamped with `stamped:=true`) at
`rate` and, with `command_on_perception`, at once on each perception,
`avoidance_state` (String) and `/diagnostics`. A publisher of `estop` or `perception` that the
node cannot hear (wrong type, incompatible QoS) is an ERROR at once; on `estop` it latches the
e-stop. Arrival of results, the e-stop heartbeat and the command rate run on the steady clock;
image age is judged on the ROS clock, which is simulated time under use_sim_time, like the
stamps of a replayed recording.
"""

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from geometry_msgs.msg import Twist, TwistStamped
from rclpy.clock import Clock, ClockType
from rclpy.duration import Duration, Infinite
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, LivelinessPolicy, QoSProfile, ReliabilityPolicy
from std_msgs.msg import Bool, String
from std_srvs.srv import Trigger

from vjepa_nodes.avoidance import (
    AvoidancePolicy, DriveState, Perception, PolicyConfig, VelocityCommand)
from vjepa_nodes.estop import EStopConfig, EStopLatch
from vjepa_nodes.ros import shutdown
from vjepa_nodes.ros.hearing import HearingCheck
from vjepa_nodes.ros.node_settings import AvoidanceNodeSettings
from vjepa_nodes.ros.parameters import (
    declare_settings, result, settings_from_parameters)
from vjepa_nodes.ros.score_messages import perception_from_msg
from vjepa_nodes.settings import setting_names

RELIABLE = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE)
# The e-stop is read on two subscriptions, so that every publisher connects: a reliable one, on
# which no message of a reliable publisher is lost, and a best-effort one for best-effort
# publishers (joystick bridges, sensor-style QoS). Both are volatile, so volatile and
# transient-local publishers match (a transient-local publisher's stored message is not
# replayed: a transient-local subscription would not match volatile publishers, and the
# heartbeat and start_latched cover a restart). They ask for no deadline and for automatic
# liveliness of unlimited lease, so no publisher's deadline or liveliness can refuse them.
ESTOP_QOS = {
    reliability.name.lower(): QoSProfile(
        depth=10, reliability=reliability, durability=DurabilityPolicy.VOLATILE,
        deadline=Infinite, liveliness=LivelinessPolicy.AUTOMATIC,
        liveliness_lease_duration=Infinite)
    for reliability in (ReliabilityPolicy.RELIABLE, ReliabilityPolicy.BEST_EFFORT)}
NO_ESTOP_WARNING = ('estop_heartbeat is 0: the robot drives without an e-stop publisher, and a '
                    'silent or lost one does not stop it')


class CollisionAvoidanceNode(Node):
    """Turn the detector's results and the e-stop into velocity commands."""

    def __init__(self, **kwargs) -> None:
        super().__init__('collision_avoidance', **kwargs)
        declare_settings(self, 'collision_avoidance')
        self._settings = settings_from_parameters(self, AvoidanceNodeSettings())
        self._steady = Clock(clock_type=ClockType.STEADY_TIME)
        self._policy = AvoidancePolicy(settings_from_parameters(self, PolicyConfig()),
                                       self._now, self._stamp_now)
        self._estop = EStopLatch(settings_from_parameters(self, EStopConfig()), self._now)
        self._runtime = setting_names(PolicyConfig())
        self.add_on_set_parameters_callback(self._on_set_parameters)
        names = self._settings.cameras or ('',)
        self._steering, self._watching = names[0], names[1:]  # the others only slow or stop
        self._perceptions: dict[str, Perception | None] = dict.fromkeys(names)
        self._cmd_pub = self.create_publisher(
            TwistStamped if self._settings.stamped else Twist, 'cmd_vel', RELIABLE)
        self._state_pub = self.create_publisher(String, 'avoidance_state', RELIABLE)
        self._diagnostics = self.create_publisher(DiagnosticArray, '/diagnostics', 10)
        self._command: VelocityCommand | None = None  # the latest published
        self._estop_check = HearingCheck(self, 'estop', Bool, lambda: list(ESTOP_QOS.values()),
                                         self._on_estop_hearing)
        for qos in ESTOP_QOS.values():
            self.create_subscription(Bool, 'estop', self._on_estop, qos,
                                     event_callbacks=self._estop_check.event_callbacks())
        self._perception_checks = []
        for name in names:
            check = HearingCheck(self, f'{name}/perception' if name else 'perception',
                                 DiagnosticArray, lambda: [RELIABLE], self._publish_diagnostics)
            self._perception_checks.append(check)
            self.create_subscription(
                DiagnosticArray, check.topic,
                lambda msg, camera=name: self._on_perception(camera, msg), RELIABLE,
                event_callbacks=check.event_callbacks())
        self.create_service(Trigger, 'reset_estop', self._on_reset_estop)
        if self._estop.config.estop_heartbeat == 0:
            self.get_logger().warning(NO_ESTOP_WARNING)
        self.create_timer(1.0 / self._settings.rate, self._on_timer, clock=self._steady)
        self.create_timer(1.0, self._check_inputs, clock=self._steady)

    def _now(self) -> float:
        return self._steady.now().nanoseconds * 1e-9

    def _stamp_now(self) -> float:
        return self.get_clock().now().nanoseconds * 1e-9

    def _on_perception(self, camera: str, msg: DiagnosticArray) -> None:
        try:
            report = perception_from_msg(msg)
        except ValueError as error:
            self.get_logger().error(f'ignoring a perception message: {error}',
                                    throttle_duration_sec=5.0)
            return
        self._perceptions[camera] = Perception(
            report.region_scores, report.obstacle, report.stamp, self._now(),
            report.has_reference, report.problem)
        if self._settings.command_on_perception:
            self._on_timer()

    def _on_estop(self, msg: Bool) -> None:
        if self._estop.on_message(msg.data):
            self._on_timer()  # stop now, not at the next tick

    def _on_estop_hearing(self) -> None:
        self._estop.set_unheard('; '.join(self._estop_check.problems))
        self._on_timer()  # a latch takes effect now
        self._publish_diagnostics()

    def _check_inputs(self) -> None:
        for check in (self._estop_check, *self._perception_checks):
            check.check()
        self._publish_diagnostics()

    def _on_reset_estop(self, request: Trigger.Request,
                        response: Trigger.Response) -> Trigger.Response:
        response.success, response.message = self._estop.reset()
        if response.success:
            self.get_logger().info(f'reset_estop: {response.message}')
        else:
            self.get_logger().warning(f'reset_estop: {response.message}')
        return response

    def _on_timer(self) -> None:
        self._estop_check.poll()  # a new e-stop publisher is looked at within one step
        others = {name: self._perceptions[name] for name in self._watching}
        self._publish(self._policy.step(self._perceptions[self._steering],
                                        self._estop.stop_reason(), others, self._steering))

    def _publish(self, command: VelocityCommand) -> None:
        twist = Twist()
        twist.linear.x, twist.angular.z = command.linear, command.angular
        if self._settings.stamped:
            message = TwistStamped(twist=twist)
            message.header.stamp = self.get_clock().now().to_msg()
            message.header.frame_id = self._settings.frame_id
            self._cmd_pub.publish(message)
        else:
            self._cmd_pub.publish(twist)
        self._state_pub.publish(String(data=command.summary))
        self._command = command

    def _publish_diagnostics(self) -> None:
        """ERROR while an input has a publisher it cannot hear; WARN while the robot is held."""
        problems = [problem for check in (self._estop_check, *self._perception_checks)
                    for problem in check.problems]
        state = self._command.summary if self._command else 'starting'
        stopped = self._command is None or self._command.state in (
            DriveState.ESTOP, DriveState.STOP_STALE)
        level = (DiagnosticStatus.ERROR if problems else DiagnosticStatus.WARN if stopped
                 else DiagnosticStatus.OK)
        values = {'state': state, 'e-stop': self._estop.stop_reason() or 'released',
                  'e-stop heartbeat (s)': str(self._estop.config.estop_heartbeat),
                  'e-stop publishers': str(self._estop_check.publishers)}
        status = DiagnosticStatus(
            level=level, name=f'{self.get_fully_qualified_name()}: collision avoidance',
            message='; '.join(problems) or state,
            values=[KeyValue(key=key, value=value) for key, value in values.items()])
        array = DiagnosticArray(status=[status])
        array.header.stamp = self.get_clock().now().to_msg()
        self._diagnostics.publish(array)

    def _on_set_parameters(self, parameters):
        if not any(p.name in self._runtime for p in parameters):
            return result('')
        try:
            self._policy.config = settings_from_parameters(self, self._policy.config, parameters)
        except ValueError as error:
            return result(str(error))
        return result('')

    def stop(self) -> None:
        """Command zero velocity once, e.g. before shutting down, and wait for its delivery."""
        self._publish(VelocityCommand(0.0, 0.0, DriveState.STOP_STALE, 'shutting down'))
        # Destroying a publisher right away can drop what reliable subscribers have not acked.
        for publisher in (self._cmd_pub, self._state_pub):
            publisher.wait_for_all_acked(Duration(seconds=0.5))


def main(args: list[str] | None = None) -> None:
    request = shutdown.init(args)
    node = shutdown.create_node(CollisionAvoidanceNode, 'collision_avoidance')
    shutdown.run(node, request, last_words=node.stop)
