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
Measure, in every ROS node process, how long a thread that wakes up waits for the interpreter.

A thread here sleeps 2 ms at a time and records how late it runs again. On a machine with
idle cores that lateness is the wait for Python's global interpreter lock, the wait that the
detector's inference worker has after each CUDA synchronisation or wake-up while image
callbacks hold the lock. Python imports this module at start-up when its directory is on
PYTHONPATH, so the processes that a benchmark starts measure theirs without changing them:
    PYTHONPATH=$PWD:$PWD/scripts/gil_waits GIL_WAITS_DIR=/tmp/gil vjepa-benchmark --end-to-end ...
    cat /tmp/gil/gil_*.txt    # per process, a line every 2 s: wall time, node, lateness (ms)
and counts of wake-ups later than 0.5, 1, 2 and 5 ms.
SWITCH_INTERVAL_MS (optional) sets the interpreter's switch interval in those processes, over
what a node sets itself, to compare.
"""

import os
import sys
import threading
import time

PERIOD = 0.002  # s between wake-ups
WINDOW = 2.0  # s per line: the timed part of a run is told from start-up and shutdown by time
LIMITS_MS = (0.5, 1, 2, 5)


def _line(lateness_ms: list[float], node: str) -> str:
    ordered = sorted(lateness_ms)
    p99 = ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]
    over = ' '.join(f'>{limit:g}ms={sum(1 for value in ordered if value > limit)}'
                    for limit in LIMITS_MS)
    return (f'{time.time():.1f} {node} interval={sys.getswitchinterval() * 1e3:g}ms '
            f'wakes={len(ordered)} p99={p99:.3f} max={ordered[-1]:.3f} {over}\n')


def _measure(path: str, node: str) -> None:
    lateness_ms: list[float] = []
    window_start = time.monotonic()
    while True:
        due = time.monotonic() + PERIOD
        time.sleep(PERIOD)
        now = time.monotonic()
        lateness_ms.append((now - due) * 1e3)
        if now - window_start > WINDOW:
            with open(path, 'a') as log:
                log.write(_line(lateness_ms, node))
            lateness_ms, window_start = [], now


if '--ros-args' in sys.argv and os.environ.get('GIL_WAITS_DIR'):
    if os.environ.get('SWITCH_INTERVAL_MS'):
        sys.setswitchinterval(float(os.environ['SWITCH_INTERVAL_MS']) / 1e3)
        sys.setswitchinterval = lambda interval: None  # the node's own choice is compared
    os.makedirs(os.environ['GIL_WAITS_DIR'], exist_ok=True)
    # The program (its module for `python -c`) and its namespace tell the processes apart.
    _node = ' '.join(arg.split(' import ')[0].replace('from ', '') if ' import ' in arg
                     else arg for arg in sys.orig_argv[1:3] + [
                         arg for arg in sys.argv if arg.startswith(('__ns:=', '__node:='))])
    threading.Thread(target=_measure, daemon=True, name='gil waits', args=(
        os.path.join(os.environ['GIL_WAITS_DIR'], f'gil_{os.getpid()}.txt'), _node)).start()
