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

"""collision_avoidance over real DDS: commands per state, stamps, watchdog, e-stop, parameters."""

import signal
import subprocess
import time

from avoidance_rig import (
    avoidance_process, feed_for, feed_until, live_estop, moving, Rig, twist)
from conftest import wait_for
import pytest

pytestmark = pytest.mark.ros


def test_clear_cruises_then_stops_within_the_timeout_when_the_detector_stops(ros):
    rig = Rig(ros, timeout=0.3, max_linear_accel=10.0)
    assert feed_until(rig, 'CLEAR')
    assert twist(rig.commands[-1][1]).linear.x == pytest.approx(0.3)
    silent_since = time.monotonic()
    assert wait_for(lambda: (rig.state_after(silent_since + 0.3) or '').startswith('STOP_STALE'),
                    timeout=2.0)
    stopped_at = next(at for at, state in rig.states
                      if at > silent_since and state.startswith('STOP_STALE'))
    assert stopped_at - silent_since < 0.3 + 0.25  # timeout plus a tick and delivery
    latest = twist(rig.commands[-1][1])
    assert (latest.linear.x, latest.angular.z) == (0.0, 0.0)


@pytest.mark.parametrize(('age', 'reason'), [(100.0, 'captured 100.'), (2.0, 'captured 2.'),
                                             (-10.0, 's in the future')])
def test_results_about_old_or_future_images_never_move_the_robot(ros, age, reason):
    rig = Rig(ros, max_linear_accel=10.0)
    start = feed_for(rig, 1.0, age=age)  # fresh arrivals, every one about stale images
    assert len([at for at, _ in rig.commands if at > start]) >= 10
    assert not moving(rig, start)
    assert reason in rig.state_after(start)
    assert feed_until(rig, 'CLEAR')  # and fresh images drive again


def test_a_problem_reported_by_the_detector_stops_the_robot(ros):
    rig = Rig(ros, max_linear_accel=10.0)
    assert feed_until(rig, 'CLEAR')
    assert feed_until(rig, 'STOP_STALE', problem='camera frozen: the same image for 1.2 s')
    assert rig.state_after(0) == 'STOP_STALE: camera frozen: the same image for 1.2 s'
    assert twist(rig.commands[-1][1]).linear.x == 0.0


def test_danger_ahead_turns_toward_the_clearer_side(ros):
    rig = Rig(ros, max_angular_accel=20.0)
    assert feed_until(rig, 'AVOID', left=0.4, center=0.5, right=0.0, obstacle=True)
    command = twist(rig.commands[-1][1])
    assert command.linear.x == 0.0 and command.angular.z < 0  # right is clearer


def test_estop_stops_at_once_and_latches_until_reset(ros):
    rig = Rig(ros, rate=1.0, max_linear_accel=10.0)  # 1 s ticks: only the e-stop path is fast
    assert feed_until(rig, 'CLEAR', timeout=12.0)
    pressed = time.monotonic()
    rig.estop.publish(rig._bool(data=True))
    assert wait_for(lambda: (rig.state_after(pressed) or '').startswith('ESTOP'), timeout=0.4)
    assert twist(rig.commands[-1][1]).linear.x == 0.0
    refused = rig.call_reset()
    assert not refused.success and refused.message == 'cannot reset: e-stop engaged'
    rig.estop.publish(rig._bool(data=False))
    released = time.monotonic()
    assert wait_for(lambda: 'call reset_estop' in (rig.state_after(released) or ''), 3.0)
    assert not moving(rig, pressed)
    assert rig.call_reset().success
    assert feed_until(rig, 'CLEAR', timeout=12.0)


def test_estop_heartbeat_loss_stops_and_latches(ros):
    rig = Rig(ros, estop_heartbeat=0.3, max_linear_accel=10.0)
    start = time.monotonic()
    while time.monotonic() < start + 1.0:  # a live e-stop publisher
        rig.estop.publish(rig._bool(data=False))
        rig.detect()
        time.sleep(0.05)
    assert rig.state_after(start).startswith('CLEAR')
    lost = time.monotonic()
    feed_for(rig, 0.8)  # perception keeps coming, the heartbeat does not
    assert 'no e-stop heartbeat' in rig.state_after(lost)
    assert not moving(rig, lost + 0.3 + 0.1)
    assert not rig.call_reset().success  # no heartbeat: no reset
    rig.estop.publish(rig._bool(data=False))
    assert rig.call_reset().success


def test_a_single_estop_message_right_after_connecting_is_never_lost(ros):
    from rclpy.qos import QoSProfile, ReliabilityPolicy
    from std_msgs.msg import Bool
    rig = Rig(ros)
    for attempt in range(12):
        assert rig.call_reset().success
        assert wait_for(lambda: rig.node._estop.stop_reason() is None)
        publisher = rig.peer.create_publisher(  # a fresh e-stop publisher each time
            Bool, 'estop', QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE))
        # Both e-stop subscriptions match it (see ESTOP_QOS).
        assert wait_for(lambda: publisher.get_subscription_count() == 2)
        publisher.publish(Bool(data=True))
        assert wait_for(lambda: rig.node._estop.stop_reason() == 'e-stop engaged',
                        timeout=2.0), attempt
        publisher.publish(Bool(data=False))
        assert wait_for(lambda: 'call reset_estop' in (rig.node._estop.stop_reason() or ''))
        rig.peer.destroy_publisher(publisher)


def test_a_restarted_node_starts_latched_and_waits_for_the_estop(ros):
    rig = Rig(ros, node=False)
    process = avoidance_process(ros, max_linear_accel=10.0)  # the defaults
    try:
        rig.wait_for_node(timeout=20.0)
        start = feed_for(rig, 1.0)
        assert rig.state_after(start) == ('ESTOP: latched at start-up; no e-stop message yet '
                                          '(one is required every 0.5 s)')
        assert not moving(rig, start)
        refused = rig.call_reset()
        assert not refused.success and 'no e-stop message yet' in refused.message
        with live_estop(rig.estop):  # an e-stop publisher comes up, released
            feed_for(rig, 0.3)
            assert rig.call_reset().success
            assert feed_until(rig, 'CLEAR')
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=10)


def test_stamped_commands_carry_frame_and_time(ros):
    rig = Rig(ros, stamped=True, frame_id='base_footprint')
    assert feed_until(rig, 'CLEAR')
    message = rig.commands[-1][1]
    assert message.header.frame_id == 'base_footprint' and message.header.stamp.sec > 0


@pytest.mark.parametrize('at_once', [True, False])
def test_a_perception_is_acted_on_at_once_or_at_the_next_tick(ros, at_once):
    rig = Rig(ros, rate=1.0, max_linear_accel=10.0, command_on_perception=at_once)
    assert wait_for(lambda: rig.states, timeout=3.0)  # a tick: the next is 1 s away
    tick = rig.states[-1][0]
    rig.detect()
    acted = wait_for(lambda: (rig.state_after(tick) or '').startswith('CLEAR'), timeout=0.4)
    assert acted == at_once
    if at_once:
        assert twist(rig.commands[-1][1]).linear.x > 0.0


def test_policy_parameters_are_validated_at_run_time(ros):
    from rclpy.parameter import Parameter
    rig = Rig(ros)
    bad = rig.node.set_parameters([Parameter('caution_score', value=0.9)])[0]
    assert not bad.successful and 'caution_score < danger_score' in bad.reason
    assert rig.node.get_parameter('caution_score').value == 0.05
    typed = rig.node.set_parameters([Parameter('cruise_speed', value='fast')])[0]
    assert not typed.successful
    assert typed.reason == "cruise_speed must be a number, got a string 'fast'"
    good = rig.node.set_parameters([Parameter('cruise_speed', value=0.2),
                                    Parameter('max_linear_accel', value=10)])[0]
    assert good.successful
    assert feed_until(rig, 'CLEAR')
    assert twist(rig.commands[-1][1]).linear.x == pytest.approx(0.2)


def test_malformed_perception_is_ignored(ros):
    from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
    rig = Rig(ros)
    start = time.monotonic()
    for _ in range(6):  # clear values, but not in the documented layout
        rig.perception.publish(DiagnosticArray(status=[DiagnosticStatus(
            name='perception', values=[KeyValue(key='center', value='0.0')])]))
        time.sleep(0.05)
    assert wait_for(lambda: len(rig.states) >= 3)
    assert all(state.startswith('STOP_STALE') for at, state in rig.states if at > start)


@pytest.mark.parametrize('signals', [[signal.SIGINT], [signal.SIGTERM],
                                     [signal.SIGINT, signal.SIGINT]])  # as under ros2 launch
def test_a_signalled_node_commands_zero_and_exits_cleanly(ros, signals):
    rig = Rig(ros, node=False)
    process = avoidance_process(ros, max_linear_accel=10.0, start_latched=False,
                                estop_heartbeat=0.0, stderr=subprocess.PIPE, text=True)
    try:
        rig.wait_for_node(timeout=20.0)
        assert feed_until(rig, 'CLEAR', timeout=20.0)
        for signum in signals:
            process.send_signal(signum)
            time.sleep(0.05)
        assert process.wait(timeout=10) == 0
    finally:
        process.kill()
    assert 'Traceback' not in process.stderr.read()
    last = twist(rig.commands[-1][1])
    assert (last.linear.x, last.angular.z) == (0.0, 0.0)
    assert wait_for(lambda: rig.states[-1][1].startswith('STOP_STALE: shutting down'))
