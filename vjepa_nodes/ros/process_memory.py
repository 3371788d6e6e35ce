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

"""Peak memory of node processes, host and GPU, for the end-to-end benchmark."""

import shutil
import subprocess
import threading

from vjepa_nodes.ros.processes import proc_status


def peak_rss_mb(pid: int) -> float:
    """Return a process's peak resident memory (VmHWM), MB."""
    return int(proc_status(pid)['VmHWM'].split()[0]) / 1024


class GpuMemory:
    """
    Sample the GPU memory of processes each second (nvidia-smi) and keep the peak, MB.

    On a thread of its own: nvidia-smi takes tens of milliseconds, which on the executor's
    thread would count as latency. `peak` stays None without nvidia-smi.
    """

    def __init__(self, pids: list[int]) -> None:
        self.pids, self.peak = pids, None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def start(self) -> None:
        if shutil.which('nvidia-smi') is not None:
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def _sample(self) -> None:
        while not self._stop.is_set():
            query = subprocess.run(['nvidia-smi', '--query-compute-apps=pid,used_memory',
                                    '--format=csv,noheader,nounits'],
                                   capture_output=True, text=True)
            used = {}
            for line in query.stdout.splitlines():
                pid, _, megabytes = line.partition(',')
                if pid.strip().isdigit() and megabytes.strip().isdigit():
                    used[int(pid)] = int(megabytes)
            total = sum(used.get(pid, 0) for pid in self.pids)
            self.peak = total if self.peak is None else max(self.peak, total)
            self._stop.wait(1.0)
