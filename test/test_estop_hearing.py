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
What collision_avoidance hears: every usual e-stop publisher, and what it does when it cannot.

For the e-stop latency the node runs as a process of its own, so that publishers and
subscriptions meet over DDS as they do on a robot (loopback), not inside one participant.
"""

import itertools
import signal
import subprocess
import time

from avoidance_rig import avoidance_process, feed_until, live_estop, Rig
from conftest import wait_for
import pytest

pytestmark = pytest.mark.ros


def _estop_publisher_qos():
    """E-stop publishers as teleop bridges, `ros2 topic pub` and latched nodes make them."""
    from rclpy.duration import Duration
    from rclpy.qos import DurabilityPolicy, LivelinessPolicy, QoSProfile, ReliabilityPolicy
    reliable, best_effort = ReliabilityPolicy.RELIABLE, ReliabilityPolicy.BEST_EFFORT
    transient_local = DurabilityPolicy.TRANSIENT_LOCAL
    return {
        'reliable': QoSProfile(depth=1, reliability=reliable),
        'best_effort': QoSProfile(depth=1, reliability=best_effort),
        'transient_local': QoSProfile(depth=1, reliability=reliable, durability=transient_local),
        'best_effort_transient_local': QoSProfile(depth=1, reliability=best_effort,
                                                  durability=transient_local),
        'deadline_and_manual_liveliness': QoSProfile(
            depth=1, reliability=reliable, deadline=Duration(seconds=0.1),
            liveliness=LivelinessPolicy.MANUAL_BY_TOPIC,
            liveliness_lease_duration=Duration(seconds=1.0)),
    }


@pytest.fixture
def avoidance_node(ros, request):
    """Start the avoidance node as a process with `request.param` parameters; stop it after."""
    process = avoidance_process(ros, stderr=subprocess.PIPE, text=True, **request.param)
    yield process
    process.send_signal(signal.SIGINT)
    process.wait(timeout=10)


@pytest.fixture
def stranger(ros):
    """Return a node on the same ROS domain in a DDS participant of its own."""
    import rclpy
    from rclpy.context import Context
    from rclpy.node import Node
    context = Context()
    rclpy.init(context=context, domain_id=ros.domain_id)
    node = Node('stranger', context=context)  # publishes only: needs no spinning
    yield node
    node.destroy_node()
    rclpy.try_shutdown(context=context)


def _errors(rig) -> list[str]:
    from diagnostic_msgs.msg import DiagnosticStatus
    return [status.message for _, status in rig.diagnostics
            if status.level == DiagnosticStatus.ERROR]


@pytest.mark.parametrize('avoidance_node', [{'estop_heartbeat': 0.0, 'rate': 5.0}],
                         indirect=True)
def test_every_usual_estop_publisher_engages_the_estop_within_100_ms(ros, avoidance_node):
    from std_msgs.msg import Bool
    rig = Rig(ros, node=False)
    rig.wait_for_node(timeout=20.0)
    rig.peer.destroy_publisher(rig.estop)  # each publisher below in turn
    latencies = {}
    for name, qos in _estop_publisher_qos().items():
        assert rig.call_reset().success, name
        publisher = rig.peer.create_publisher(Bool, 'estop', qos)
        assert wait_for(lambda: publisher.get_subscription_count() >= 1), name
        with live_estop(publisher):  # a live e-stop, released
            time.sleep(0.3)
        pressed = time.monotonic()
        with live_estop(publisher, engaged=True):
            assert wait_for(lambda: rig.state_after(pressed) == 'ESTOP: e-stop engaged', 2.0)
        latencies[name] = next(at for at, state in rig.states
                               if at > pressed and state.startswith('ESTOP')) - pressed
        released = time.monotonic()
        with live_estop(publisher):
            assert wait_for(lambda: 'call reset_estop' in (rig.state_after(released) or ''),
                            2.0), name
        rig.peer.destroy_publisher(publisher)
    assert all(latency < 0.1 for latency in latencies.values()), latencies
    assert not _errors(rig)  # each one was heard


def test_an_estop_publisher_that_cannot_be_heard_latches_with_the_reason(ros, stranger, capfd):
    """Another type: no QoS choice of ours can hear it, and DDS says nothing."""
    from std_msgs.msg import String
    rig = Rig(ros, max_linear_accel=10.0)
    assert feed_until(rig, 'CLEAR')
    wrong = stranger.create_publisher(String, 'estop', 10)  # one type per topic in a participant
    appeared = time.monotonic()
    reason = ('cannot hear publisher /stranger on /estop: it publishes std_msgs/msg/String, not '
              'std_msgs/msg/Bool')
    why = 'it publishes std_msgs/msg/String, not std_msgs/msg/Bool'  # before its node is known too
    assert feed_until(rig, 'ESTOP: cannot hear publisher', timeout=2.0)
    stopped = next(at for at, state in rig.states if at > appeared and why in state)
    assert stopped - appeared < 0.5  # discovery, then the next step
    assert wait_for(lambda: reason in _errors(rig), 1.0)
    refused = rig.call_reset()
    assert not refused.success and reason in refused.message
    stranger.destroy_publisher(wrong)  # fixed: still latched until reset
    assert wait_for(lambda: rig.state_after(0).endswith(f'{why}: call reset_estop to drive'), 2.0)
    assert rig.call_reset().success
    assert feed_until(rig, 'CLEAR')
    logged = capfd.readouterr().err.splitlines()
    assert any('[ERROR]' in line and reason in line for line in logged)


def test_a_perception_publisher_that_cannot_connect_is_an_error_within_1_s(ros):
    from diagnostic_msgs.msg import DiagnosticArray
    from rclpy.qos import QoSProfile, ReliabilityPolicy
    rig = Rig(ros)
    appeared = time.monotonic()
    rig.peer.create_publisher(DiagnosticArray, 'perception',
                              QoSProfile(depth=1, reliability=ReliabilityPolicy.BEST_EFFORT))
    reason = ('cannot hear publisher /peer on /perception: incompatible QoS, it offers '
              'reliability best_effort; make it publish with reliable')
    assert wait_for(lambda: reason in _errors(rig), 1.0)
    reported = next(at for at, status in rig.diagnostics if reason in status.message)
    assert reported - appeared < 1.0


def test_estop_subscriptions_accept_every_publisher_qos():
    """Every combination of the policies that decide a match, by the rmw's own rule."""
    from rclpy.duration import Duration, Infinite
    from rclpy.qos import DurabilityPolicy, LivelinessPolicy, QoSProfile, ReliabilityPolicy
    from vjepa_nodes.ros.collision_avoidance_node import ESTOP_QOS
    from vjepa_nodes.ros.hearing import incompatible_policies
    offered = itertools.product(
        (ReliabilityPolicy.RELIABLE, ReliabilityPolicy.BEST_EFFORT),
        (DurabilityPolicy.VOLATILE, DurabilityPolicy.TRANSIENT_LOCAL),
        (Infinite, Duration(seconds=0.01)),
        (LivelinessPolicy.AUTOMATIC, LivelinessPolicy.MANUAL_BY_TOPIC),
        (Infinite, Duration(seconds=0.01)))
    for reliability, durability, deadline, liveliness, lease in offered:
        publisher = QoSProfile(depth=1, reliability=reliability, durability=durability,
                               deadline=deadline, liveliness=liveliness,
                               liveliness_lease_duration=lease)
        if reliability == ReliabilityPolicy.BEST_EFFORT:  # why one subscription is not enough
            assert incompatible_policies(publisher, ESTOP_QOS['reliable']) == ['reliability']
        assert any(not incompatible_policies(publisher, ours) for ours in ESTOP_QOS.values()), \
            publisher


def test_incompatible_policies_are_named():
    from rclpy.duration import Duration
    from rclpy.qos import DurabilityPolicy, LivelinessPolicy, QoSProfile, ReliabilityPolicy
    from vjepa_nodes.ros.hearing import incompatible_policies, policy_value
    wanted = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE,
                        durability=DurabilityPolicy.TRANSIENT_LOCAL,
                        deadline=Duration(seconds=0.1),
                        liveliness=LivelinessPolicy.MANUAL_BY_TOPIC,
                        liveliness_lease_duration=Duration(seconds=0.5))
    offered = QoSProfile(depth=1, reliability=ReliabilityPolicy.BEST_EFFORT,
                         durability=DurabilityPolicy.VOLATILE,
                         liveliness=LivelinessPolicy.AUTOMATIC)
    assert incompatible_policies(offered, wanted) == [
        'reliability', 'durability', 'deadline', 'liveliness']
    assert incompatible_policies(wanted, wanted) == []
    assert policy_value(wanted, 'deadline') == '0.1 s'
    assert policy_value(offered, 'deadline') == 'none'
    assert policy_value(wanted, 'liveliness') == 'manual_by_topic 0.5 s'
    assert policy_value(offered, 'reliability') == 'best_effort'
