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

"""Shared test setup: DDS stays on loopback and every test run gets its own ROS domain."""

import itertools
import os
from pathlib import Path
import sys
import threading
import time

import pytest
import torch

from vjepa_nodes.ros.processes import private_dds_env

# Set before rclpy is imported anywhere, and inherited by every node process a test starts.
os.environ.setdefault('ROS_DOMAIN_ID', str(1 + os.getpid() % 100))
os.environ.update(private_dds_env())


# Tools that start our nodes as processes (demo, benchmarks) and checks of the package's tooling
# (colcon test, an installed non-ROS executable) run from one ROS environment: the nodes
# themselves are tested against both distros, and each such run costs 10-20 s.
KILTED_ENV = Path(__file__).resolve().parents[1] / '.venv-ros-kilted'
once_per_suite = pytest.mark.skipif(
    Path(sys.prefix).resolve() != KILTED_ENV.resolve(),
    reason='a tool over the nodes: run once, from .venv-ros-kilted')


@pytest.fixture(autouse=True)
def _deterministic_torch():
    torch.manual_seed(0)
    yield


_domain_ids = itertools.count()


class RosHarness:
    """A private rclpy context on its own ROS domain, spun by a background executor."""

    def __init__(self) -> None:
        import rclpy
        from rclpy.context import Context
        from rclpy.executors import SingleThreadedExecutor
        self.context = Context()
        base = int(os.environ['ROS_DOMAIN_ID'])
        self.domain_id = 1 + (base + next(_domain_ids)) % 100
        rclpy.init(context=self.context, domain_id=self.domain_id)
        self.executor = SingleThreadedExecutor(context=self.context)
        self._thread = threading.Thread(target=self.executor.spin, daemon=True)
        self._thread.start()
        self.nodes = []

    def add(self, node):
        """Spin `node` in the background; it is destroyed with the harness."""
        self.nodes.append(node)
        self.executor.add_node(node)
        return node

    def close(self) -> None:
        import rclpy
        self.executor.shutdown(timeout_sec=5)
        for node in self.nodes:
            node.destroy_node()
        rclpy.try_shutdown(context=self.context)
        self._thread.join(timeout=5)


@pytest.fixture
def ros():
    """Return a RosHarness for one test (real rclpy and DDS, on loopback)."""
    harness = RosHarness()
    yield harness
    harness.close()


def console_log(capfd) -> str:
    """
    Return what in-process nodes logged so far (rcutils writes to stderr synchronously).

    Read there rather than from /rosout: a /rosout subscription made just before the log line
    may not have matched the node's rosout publisher yet, which made such tests flaky.
    """
    return capfd.readouterr().err


def wait_for(condition, timeout: float = 10.0, interval: float = 0.02) -> bool:
    """Poll `condition` until it is true or `timeout` seconds pass; return its last value."""
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        time.sleep(interval)
    return bool(condition())
