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
Log every garbage collection of the ROS node processes: wall time, generation, duration (ms).

Python imports this module at start-up when its directory is on PYTHONPATH, so the node
processes that a benchmark starts log theirs without changing them:
    PYTHONPATH=$PWD:$PWD/scripts/gc_pauses GC_PAUSES_DIR=/tmp/gc vjepa-benchmark --end-to-end ...
    awk '$2 == 2' /tmp/gc/gc_*.txt    # the full collections, one file per process id
"""

import gc
import os
import sys
import time

if '--ros-args' in sys.argv and os.environ.get('GC_PAUSES_DIR'):
    _path = os.path.join(os.environ['GC_PAUSES_DIR'], f'gc_{os.getpid()}.txt')
    _started = [0.0]

    def _on_collection(phase: str, info: dict) -> None:
        if phase == 'start':
            _started[0] = time.perf_counter()
            return
        took = (time.perf_counter() - _started[0]) * 1e3
        with open(_path, 'a') as log:  # a few microseconds, after the collection
            log.write(f"{time.time():.3f} {info['generation']} {took:.3f}\n")

    os.makedirs(os.environ['GC_PAUSES_DIR'], exist_ok=True)
    gc.callbacks.append(_on_collection)
