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
Clean exits on SIGINT and SIGTERM, alone and under `ros2 launch`.

rclpy's own handler shuts the context down inside the signal, while a worker thread may be
publishing and before a last zero command is out; KeyboardInterrupt can land anywhere, even in
cleanup. Under `ros2 launch` a Ctrl-C reaches each node twice (the terminal signals the whole
process group, then launch signals each node). Here a signal only asks the spin loop to end,
any later signal is ignored (also while the interpreter exits: Python would otherwise restore
the default action, and a late second SIGINT would kill the process), and the node cleans up in
its own order with the context still up.
"""

import signal
import threading
from typing import Callable, TypeVar

import rclpy
from rclpy.exceptions import ParameterException
from rclpy.executors import Executor, ExternalShutdownException, SingleThreadedExecutor
from rclpy.node import Node
from rclpy.signals import SignalHandlerOptions

from vjepa_nodes.ros.heap import freeze_heap

SPIN_SLICE = 0.1  # s: how often the spin loop looks for a signal
AnyNode = TypeVar('AnyNode', bound=Node)


class ShutdownRequest:
    """Set by the first SIGINT or SIGTERM; the spin loop ends when it is set."""

    def __init__(self) -> None:
        self._event = threading.Event()
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, self._on_signal)

    def _on_signal(self, signum: int, frame) -> None:
        for other in (signal.SIGINT, signal.SIGTERM):
            signal.signal(other, signal.SIG_IGN)
        self._event.set()

    def __bool__(self) -> bool:
        return self._event.is_set()


def init(args: list[str] | None) -> ShutdownRequest:
    """Initialise rclpy without its signal handlers; return the request our handlers set."""
    rclpy.init(args=args, signal_handler_options=SignalHandlerOptions.NO)
    return ShutdownRequest()


def create_node(node_class: Callable[[], AnyNode], name: str) -> AnyNode:
    """Build the node; on a bad parameter value say which and why, then exit with code 2."""
    try:
        return node_class()
    except (ParameterException, ValueError) as error:
        rclpy.logging.get_logger(name).fatal(f'cannot start: {error}')
        rclpy.try_shutdown()
        raise SystemExit(2) from None


def run(node: Node, request: ShutdownRequest, last_words: Callable[[], None] = lambda: None
        ) -> None:
    """Spin `node` until a signal, then call `last_words` and tear down in order."""
    freeze_heap()  # the node is built: full collections need not scan what it holds
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    try:
        spin_until_shutdown(executor, request)
    finally:
        last_words()
        executor.shutdown()
        node.destroy_node()
        rclpy.try_shutdown()


def spin_until_shutdown(executor: Executor, request: ShutdownRequest,
                        done: Callable[[], bool] = lambda: False) -> None:
    """Spin until a signal, `done()`, or the context going down elsewhere."""
    try:
        while not request and not done() and executor.context.ok():
            executor.spin_once(timeout_sec=SPIN_SLICE)
    except ExternalShutdownException:
        pass
