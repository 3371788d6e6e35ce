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
Publishers a node cannot hear: of another message type, or with QoS no subscription accepts.

DDS connects a publisher to a subscription only if their types agree and their QoS policies are
compatible; otherwise not one message arrives, and rclpy at most logs a WARN. An input that a
safety decision rests on must say so at once. `HearingCheck` reads the input's publishers from
the ROS graph (their types and offered QoS) whenever asked, whenever an incompatible-QoS event
arrives and, through the cheap `poll`, whenever the number of publishers changes (a publisher
of another type raises no event on Humble). It logs an ERROR naming the publisher, the policy
and what to change.
"""

import copy
from typing import Callable

from rclpy.duration import Duration, Infinite
from rclpy.node import Node
from rclpy.qos import qos_check_compatible, QoSCompatibility, QoSProfile
from rclpy.topic_endpoint_info import TopicEndpointInfo

try:
    from rclpy.event_handler import SubscriptionEventCallbacks
except ImportError:  # Humble
    from rclpy.qos_event import SubscriptionEventCallbacks

# The QoS policies that decide whether a publisher and a subscription connect, with the
# profile fields each is made of.
POLICIES = {'reliability': ('reliability',), 'durability': ('durability',),
            'deadline': ('deadline',), 'liveliness': ('liveliness', 'liveliness_lease_duration')}
_NO_DURATION = (0, Infinite.nanoseconds)  # unset, and infinite as the graph reports it
# How the graph names the node of an endpoint it has not matched to a node (yet, or ever: a
# plain DDS program).
UNKNOWN_NODE = '_NODE_NAME_UNKNOWN_'


def type_name(msg_type: type) -> str:
    """Return a message type's ROS name, e.g. std_msgs/msg/Bool."""
    return f"{msg_type.__module__.split('.')[0]}/msg/{msg_type.__name__}"


def incompatible_policies(offered: QoSProfile, requested: QoSProfile) -> list[str]:
    """Name each policy in which a publisher's `offered` QoS fails a subscription's request."""
    names = []
    for policy, attributes in POLICIES.items():
        alone = copy.copy(requested)  # the request, with only this policy as offered
        for attribute in attributes:
            setattr(alone, attribute, getattr(offered, attribute))
        if qos_check_compatible(alone, requested)[0] == QoSCompatibility.ERROR:
            names.append(policy)
    return names


def policy_value(profile: QoSProfile, policy: str) -> str:
    """Return one policy of a profile in words, e.g. 'best_effort', '0.1 s' or 'none'."""
    values = []
    for attribute in POLICIES[policy]:
        value = getattr(profile, attribute)
        if isinstance(value, Duration):
            if value.nanoseconds not in _NO_DURATION:
                values.append(f'{value.nanoseconds * 1e-9:g} s')
        else:
            values.append(value.name.lower())
    return ' '.join(values) or 'none'


def unheard_publishers(publishers: list[TopicEndpointInfo], full_topic: str, msg_type: type,
                       accepted: list[QoSProfile], qos_advice: str = '') -> list[str]:
    """
    Describe each of a topic's `publishers` that none of the subscriptions `accepted` can hear.

    `qos_advice` ends the description of a publisher with incompatible QoS.
    """
    wanted = type_name(msg_type)
    problems = []
    for info in publishers:
        node_name = ('of an unknown node' if info.node_name == UNKNOWN_NODE
                     else f"{info.node_namespace.rstrip('/')}/{info.node_name}")
        who = f'publisher {node_name} on {full_topic}'
        if info.topic_type != wanted:
            problems.append(f'cannot hear {who}: it publishes {info.topic_type}, not {wanted}')
            continue
        failed = [incompatible_policies(info.qos_profile, profile) for profile in accepted]
        if all(failed):  # every subscription refuses it
            policies = failed[0]
            offered = ', '.join(f'{p} {policy_value(info.qos_profile, p)}' for p in policies)
            wished = ' or '.join(', '.join(policy_value(profile, p) for p in policies)
                                 for profile in accepted)
            problems.append(f'cannot hear {who}: incompatible QoS, it offers {offered}; make it '
                            f'publish with {wished}{qos_advice}')
    return problems


class HearingCheck:
    """The publishers of one input that the node cannot hear, kept current."""

    def __init__(self, node: Node, topic: str, msg_type: type,
                 accepted: Callable[[], list[QoSProfile]],
                 on_change: Callable[[], None], qos_advice: str = '') -> None:
        """
        Watch `topic`; `accepted` gives the QoS of its subscriptions as they are now.

        `on_change` is called when the problems change; `qos_advice` ends the description of a
        publisher with incompatible QoS.
        """
        self._node, self.topic, self._msg_type = node, topic, msg_type
        self._accepted, self._on_change, self._qos_advice = accepted, on_change, qos_advice
        self._full_topic = node.resolve_topic_name(topic)  # expanded and remapped
        self.publishers = 0  # how many there were at the last check
        self.problems: list[str] = []

    def event_callbacks(self) -> SubscriptionEventCallbacks:
        """Callbacks for its subscriptions: check at once when a publisher cannot connect."""
        return SubscriptionEventCallbacks(incompatible_qos=lambda info: self.check())

    def poll(self) -> None:
        """Check if the number of publishers changed: cheap enough for a control loop."""
        if self._node.count_publishers(self._full_topic) != self.publishers:
            self.check()

    def check(self) -> None:
        """Look at the publishers now; log each newly unheard one; report a change."""
        publishers = self._node.get_publishers_info_by_topic(self.topic)  # remapped as ours
        self.publishers = len(publishers)
        problems = unheard_publishers(publishers, self._full_topic, self._msg_type,
                                      self._accepted(), self._qos_advice)
        for problem in problems:
            if problem not in self.problems:
                self._node.get_logger().error(problem)
        changed = problems != self.problems
        self.problems = problems
        if changed:
            self._on_change()
