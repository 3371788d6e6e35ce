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

"""The avoidance node's test rig: a fake detector, an e-stop, and listeners, over real DDS."""

from contextlib import contextmanager
import os
import subprocess
import threading
import time

from conftest import wait_for
from vjepa_nodes.ros.processes import node_process


class Rig:
    """The avoidance node plus a fake detector and a cmd_vel listener on one ROS domain."""

    def __init__(self, ros, node=True, **settings) -> None:
        from diagnostic_msgs.msg import DiagnosticArray
        from geometry_msgs.msg import Twist, TwistStamped
        from rclpy.node import Node
        from rclpy.parameter import Parameter
        from rclpy.qos import QoSProfile, ReliabilityPolicy
        from std_msgs.msg import Bool, String
        from std_srvs.srv import Trigger
        from vjepa_nodes.ros.collision_avoidance_node import CollisionAvoidanceNode
        qos = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
        settings = {'start_latched': False, 'estop_heartbeat': 0.0, **settings}
        if node:
            self.node = ros.add(CollisionAvoidanceNode(context=ros.context, parameter_overrides=[
                Parameter(name, value=value) for name, value in settings.items()]))
        self.peer = ros.add(Node('peer', context=ros.context))
        self.perception = self.peer.create_publisher(DiagnosticArray, 'perception', qos)
        self.estop = self.peer.create_publisher(Bool, 'estop', qos)
        self.reset = self.peer.create_client(Trigger, 'reset_estop')
        self.commands, self.states = [], []
        command_type = TwistStamped if settings.get('stamped') else Twist
        self.peer.create_subscription(command_type, 'cmd_vel', self._on_command, qos)
        self.peer.create_subscription(String, 'avoidance_state', self._on_state, qos)
        self.diagnostics = []  # (arrival, DiagnosticStatus) of the avoidance node
        self.peer.create_subscription(DiagnosticArray, '/diagnostics', self._on_diagnostics, qos)
        self._bool = Bool
        if node:
            self.wait_for_node()

    def wait_for_node(self, timeout=10.0) -> None:
        assert wait_for(lambda: self.perception.get_subscription_count() == 1
                        and self.peer.count_publishers('cmd_vel') == 1, timeout)

    def _on_command(self, msg) -> None:
        self.commands.append((time.monotonic(), msg))

    def _on_state(self, msg) -> None:
        self.states.append((time.monotonic(), msg.data))

    def _on_diagnostics(self, msg) -> None:
        self.diagnostics += [(time.monotonic(), status) for status in msg.status
                             if status.name.endswith('collision avoidance')]

    def detect(self, left=0.0, center=0.0, right=0.0, obstacle=False, age=0.0, problem='',
               reference=True) -> None:
        """Publish a result about images captured `age` seconds ago (on the peer's clock)."""
        from rclpy.duration import Duration
        from std_msgs.msg import Header
        from vjepa_nodes.ros.score_messages import perception_to_msg
        stamp = self.peer.get_clock().now() - Duration(nanoseconds=int(age * 1e9))
        header = Header(stamp=stamp.to_msg(), frame_id='camera')
        self.perception.publish(perception_to_msg(
            header, {'left': left, 'center': center, 'right': right}, max(left, center, right),
            obstacle, reference, problem))

    def state_after(self, since: float) -> str | None:
        later = [state for at, state in self.states if at > since]
        return later[-1] if later else None

    def call_reset(self):
        from std_srvs.srv import Trigger
        assert self.reset.wait_for_service(timeout_sec=5.0)
        future = self.reset.call_async(Trigger.Request())
        assert wait_for(future.done, timeout=5.0)
        return future.result()


def twist(message):
    return getattr(message, 'twist', message)


def moving(rig, since):
    return [m for at, m in rig.commands if at > since and twist(m).linear.x != 0.0]


def feed_until(rig, state, timeout=5.0, **scores):
    """Publish results every 50 ms until `state` comes; return whether it came."""
    start = time.monotonic()
    deadline = start + timeout
    while time.monotonic() < deadline:
        rig.detect(**scores)
        time.sleep(0.05)
        current = rig.state_after(start)
        if current and current.startswith(state):
            return True
    return False


def feed_for(rig, seconds, **scores):
    """Publish results every 50 ms for `seconds`; return the start."""
    start = time.monotonic()
    while time.monotonic() < start + seconds:
        rig.detect(**scores)
        time.sleep(0.05)
    return start


@contextmanager
def live_estop(publisher, engaged: bool = False):
    """
    Publish `engaged` on an e-stop publisher every 20 ms from a thread, as a live e-stop does.

    Best effort may lose the first messages of a new connection: a live e-stop repeats them.
    """
    from std_msgs.msg import Bool
    stop = threading.Event()

    def beat() -> None:
        while not stop.is_set():
            publisher.publish(Bool(data=engaged))
            stop.wait(0.02)
    thread = threading.Thread(target=beat, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def avoidance_process(ros, stderr=None, text=False, **parameters) -> subprocess.Popen:
    return node_process('collision_avoidance_node', parameters,
                        dict(os.environ, ROS_DOMAIN_ID=str(ros.domain_id)), stderr=stderr,
                        text=text)
