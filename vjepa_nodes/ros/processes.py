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
Node processes whose DDS traffic stays on this machine: for the demo, benchmarks and tests.

Discovery stays on localhost; without a ROS_DOMAIN_ID of the caller's, a random domain keeps runs
apart. The demo and the soak also start their nodes in their own namespace (DEMO_NAMESPACE), so
their `cmd_vel` never reaches a robot base listening on `/cmd_vel`, whatever the domain.
"""

import os
import random
import subprocess
import sys

DEMO_NAMESPACE = '/vjepa_demo'


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


def node_process(module: str, parameters: dict | None = None, env: dict | None = None,
                 ros_arguments: tuple[str, ...] = (), **popen) -> subprocess.Popen:
    """
    Start vjepa_nodes.ros.<module>'s main() as a process of this interpreter.

    `parameters` become `-p` arguments (parameter_arguments), `ros_arguments` follow them
    (e.g. `-r __node:=x`), `env` defaults to private_dds_env(), and `popen` goes to
    subprocess.Popen (e.g. stderr).
    """
    command = [sys.executable, '-c', f'from vjepa_nodes.ros.{module} import main; main()',
               '--ros-args', *parameter_arguments(parameters or {}), *ros_arguments]
    return subprocess.Popen(command, env=private_dds_env() if env is None else env, **popen)


def proc_status(pid: int) -> dict[str, str]:
    """Return a process's /proc/<pid>/status fields (e.g. 'VmHWM': '812 kB'); OSError if gone."""
    with open(f'/proc/{pid}/status') as status:
        return {key: value.strip() for key, value in
                (line.split(':', 1) for line in status if ':' in line)}


def parameter_arguments(parameters: dict) -> list[str]:
    """
    Return `-p name:=value` arguments; ROS reads each value as YAML text.

    Booleans become true/false, lists and tuples [a, b]; a string goes as written, so '5' is an
    integer and 'true' a boolean to ROS (quote it, "'0'", to pass the string 0).
    """
    arguments = []
    for name, value in parameters.items():
        if isinstance(value, bool):
            value = str(value).lower()
        elif isinstance(value, (list, tuple)):
            value = f'[{", ".join(str(item) for item in value)}]'
        arguments += ['-p', f'{name}:={value}']
    return arguments
