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

"""Keep the garbage collector's full passes short in nodes that run for hours."""

import gc
import time


def freeze_heap() -> tuple[int, float]:
    """
    Collect once, then move every live object into the collector's permanent generation.

    Without this a full collection scans all the process holds: in the detector node with
    torch and a model loaded, some 400 000 objects, 140-240 ms on the dev CPU during which no
    thread runs Python (one came about a minute into a run: docs/PERFORMANCE.md). Objects
    made later are collected as usual; gc.unfreeze() gives the frozen ones back (once a
    model is dropped). Returns the objects frozen and the milliseconds the one collection took.
    """
    started = time.perf_counter()
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count(), (time.perf_counter() - started) * 1e3
