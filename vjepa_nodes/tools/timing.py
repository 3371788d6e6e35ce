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

"""Timing on a device: wait for its queued work around each call, so that work is counted."""

import time
from typing import Callable, TypeVar
import warnings

import torch

from vjepa_nodes.device import synchronize

Result = TypeVar('Result')


def time_call(call: Callable[[], Result], device: torch.device | None) -> tuple[float, Result]:
    """
    Return (seconds, result) of one call of `call`.

    With a device, its queued work is waited for before and after the call: the time includes
    the work the call queued. None times the calling thread only, for work done on the host.
    """
    if device is not None:
        synchronize(device)
    start = time.perf_counter()
    result = call()
    if device is not None:
        synchronize(device)
    return time.perf_counter() - start, result


def time_calls(call: Callable[[], object], device: torch.device, iterations: int,
               max_seconds: float) -> tuple[float, list[float], list[str]]:
    """Return (first call s, timed call s, CPU-fallback warnings) of `call`: see time_together."""
    return time_together([call], device, iterations, max_seconds)[0]


def time_together(calls: list[Callable[[], object]], device: torch.device, iterations: int,
                  max_seconds: float) -> list[tuple[float, list[float], list[str]]]:
    """
    Return (first call s, timed call s, CPU-fallback warnings) for each of `calls` on `device`.

    Each first call (compilation, capture, export) is timed apart; the second sizes the run: two
    more warm-up calls when calls are short, then rounds of one call each, in turn, up to
    `iterations` rounds within `max_seconds` (at least 2), each call synchronised: a clip's
    latency. Taking turns exposes every call to the same background load, so their ratio holds
    on a busy machine.
    """
    firsts, fallbacks = [], []
    for call in calls:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter('always')
            firsts.append(time_call(call, device)[0])
        fallbacks.append(sorted({str(w.message) for w in caught if 'fall back' in str(w.message)}))
    steady = sum(time_call(call, device)[0] for call in calls)
    if steady < 1.0:  # warm-up: caches, clocks, allocator
        steady = min(sum(time_call(call, device)[0] for call in calls) for _ in range(2))
    rounds = max(2, min(iterations, int(max_seconds / max(steady, 1e-6))))
    samples: list[list[float]] = [[] for _ in calls]
    for _ in range(rounds):
        for call, timed in zip(calls, samples):
            timed.append(time_call(call, device)[0])
    return list(zip(firsts, samples, fallbacks))
