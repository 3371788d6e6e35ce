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

"""The detector node's camera-sized outputs, published on a thread of their own."""

from collections import Counter
import threading
from typing import Callable

from vjepa_nodes.perception.camera_stream import DetectionResult


class ImagePublishing:
    """
    Publish each camera's heat maps and overlay behind the inference worker, newest first.

    The worker hands over a batch's results once their decisions are out and goes on with the
    next batch, so camera-sized images never delay a decision. A camera's images still waiting
    when a newer result of it comes are replaced (counted per camera in `replaced`): an old
    clip's images are worth less than keeping up.
    """

    def __init__(self, publish: Callable[[str, DetectionResult], None]) -> None:
        """`publish(camera, result)` publishes one camera's images and reports its failures."""
        self._publish = publish
        self._pending: dict[str, DetectionResult] = {}
        self._condition = threading.Condition()
        self._stopping = False
        self._thread: threading.Thread | None = None
        self.replaced: Counter[str] = Counter()

    def start(self) -> None:
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name='image outputs', daemon=True)
        self._thread.start()

    def submit(self, results: dict[str, DetectionResult]) -> None:
        if not results:
            return
        with self._condition:
            self.replaced.update(name for name in results if name in self._pending)
            self._pending.update(results)
            self._condition.notify()

    def stop(self, timeout: float | None = None) -> None:
        """Stop after the camera in progress; images still waiting are dropped (idempotent)."""
        with self._condition:
            self._stopping = True
            self._pending.clear()
            self._condition.notify()
        if self._thread is not None:
            self._thread.join(timeout)
            if not self._thread.is_alive():
                self._thread = None

    def _run(self) -> None:
        while True:
            with self._condition:
                while not (self._pending or self._stopping):
                    self._condition.wait()
                if self._stopping:
                    return
                name = next(iter(self._pending))
                result = self._pending.pop(name)
            self._publish(name, result)
