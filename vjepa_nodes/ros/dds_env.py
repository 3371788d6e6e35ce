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

"""The environment for node processes that must keep their DDS traffic on this machine."""

import os
import random


def private_dds_env(base: dict | None = None) -> dict:
    """
    Return a copy of `base` (default: os.environ) for DDS on this machine in a private domain.

    Discovery stays on localhost (ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST, plus
    ROS_LOCALHOST_ONLY=1 on Humble, which predates the discovery range). A ROS_DOMAIN_ID the
    caller set is kept; otherwise a random one in 1..100 keeps the processes off the default
    domain 0 of a robot's graph.
    """
    env = dict(os.environ if base is None else base)
    env['ROS_AUTOMATIC_DISCOVERY_RANGE'] = 'LOCALHOST'
    if env.get('ROS_DISTRO') == 'humble':
        env['ROS_LOCALHOST_ONLY'] = '1'
    if not env.get('ROS_DOMAIN_ID'):
        env['ROS_DOMAIN_ID'] = str(random.randint(1, 100))
    return env
