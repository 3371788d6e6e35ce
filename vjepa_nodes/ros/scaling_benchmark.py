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
`vjepa-benchmark --cameras 1,2,4,8`: N cameras into one batched detector, or one per camera.

For each camera count and layout, this process publishes N camera streams (`c0/image`, ...) at
`--camera-fps`, stamped now, over loopback DDS in a private domain, and listens to each
camera's `perception` and heat map (both stamped with its clip's newest image). Layouts:
- batched: one obstacle_detector process with `cameras: [c0, c1, ...]`: one model, clips that
  are ready together encoded in one batch;
- separate: one obstacle_detector process per camera (namespace c<i>), each with its own model.
Measured after every camera's second result: clips/s over all cameras, each camera's latency
(perception arrival - stamp: what the avoidance node acts on) p50 and p99, the heat map's p99,
and peak memory: the detector processes' resident
memory (VmHWM, summed) and, on CUDA, their GPU memory (nvidia-smi, summed, sampled each second
on a thread of its own).
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import threading

from diagnostic_msgs.msg import DiagnosticArray
import rclpy
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import Image
from std_msgs.msg import Header

from vjepa_nodes.camera_sources import moving_demo_frames
from vjepa_nodes.ros.image_conversions import frame_to_image
from vjepa_nodes.ros.latency_benchmark import (
    cdr_header_stamp, detector_parameters, spin_until)
from vjepa_nodes.ros.processes import node_process, private_dds_env, proc_status
from vjepa_nodes.tools.tables import align

LAYOUTS = ('batched', 'separate')
OUTPUT_QOS = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
COLUMNS = (('layout', 'layout', '{}'), ('cameras', 'cameras', '{}'),
           ('clips/s', 'clips_per_s', '{:.2f}'), ('needed', 'clips_per_s_needed', '{:.2f}'),
           ('p50 ms (worst cam)', 'latency_ms_p50_worst', '{:.0f}'),
           ('p99 ms (worst cam)', 'latency_ms_p99_worst', '{:.0f}'),
           ('heat map p99 ms', 'heatmap_ms_p99_worst', '{:.0f}'),
           ('host MB', 'peak_host_mb', '{:.0f}'), ('GPU MB', 'peak_gpu_mb', '{}'))


class Cameras(Node):
    """Publish N stamped camera streams; record each camera's perception and heat-map latency."""

    def __init__(self, names: list[str], size: tuple[int, int], fps: float) -> None:
        super().__init__('scaling_benchmark')
        height, width = size
        self.images = [frame_to_image(frame, 'rgb8', Header())
                       for frame in moving_demo_frames(width, height, fps, int(2 * fps))]
        self.sent = 0
        self.latencies: dict[str, list[float]] = {name: [] for name in names}  # perception
        self.heatmap_latencies: dict[str, list[float]] = {name: [] for name in names}
        self.cameras = {name: self.create_publisher(Image, f'{name}/image', QoSProfile(depth=1))
                        for name in names}
        for name in names:
            # Raw: only the stamp is read, so decoding costs this process nothing it would count.
            for kind, topic, found in ((DiagnosticArray, 'perception', self.latencies),
                                       (Image, 'heatmap', self.heatmap_latencies)):
                self.create_subscription(
                    kind, f'{name}/{topic}',
                    lambda data, found=found[name]: self._on_result(found, data), OUTPUT_QOS,
                    raw=True)
        self.create_timer(1.0 / fps, self._publish)

    def _publish(self) -> None:
        stamp = self.get_clock().now().to_msg()
        for index, publisher in enumerate(self.cameras.values()):
            image = self.images[(self.sent + 7 * index) % len(self.images)]
            image.header.stamp = stamp
            publisher.publish(image)
        self.sent += 1

    def _on_result(self, latencies: list[float], serialized: bytes) -> None:
        stamp = cdr_header_stamp(serialized)
        if stamp > 0:  # 0: a failed clip's report, or no header known; nothing to time
            latencies.append(self.get_clock().now().nanoseconds * 1e-9 - stamp)


def run_scaling(args: argparse.Namespace) -> int:
    """Run every camera count in both layouts; print a table and write JSON."""
    os.environ.update(private_dds_env())
    rows = []
    rclpy.init()
    try:
        for count in args.cameras:
            for layout in LAYOUTS:
                row = _case(args, layout, count)
                print(align([[name for name, _, _ in COLUMNS],
                             [form.format(row[key]) for _, key, form in COLUMNS]]), flush=True)
                rows.append(row)
    finally:
        rclpy.try_shutdown()
    with open(args.json, 'w') as out:
        json.dump({'camera_scaling': rows}, out, indent=1)
    print(align([[name for name, _, _ in COLUMNS]]
                + [[form.format(row[key]) for _, key, form in COLUMNS] for row in rows]))
    print(f'wrote {args.json}')
    return 0


def _case(args: argparse.Namespace, layout: str, count: int) -> dict:
    names = [f'c{index}' for index in range(count)]
    parameters = detector_parameters(args)
    if layout == 'batched':
        processes = [node_process('obstacle_detector_node', {**parameters, 'cameras': names},
                                  dict(os.environ))]
    else:
        processes = [node_process('obstacle_detector_node', parameters, dict(os.environ),
                                  ('-r', f'__ns:=/{name}')) for name in names]
    camera = Cameras(names, args.camera, args.camera_fps)
    executor = SingleThreadedExecutor()
    executor.add_node(camera)
    gpu = GpuMemory([process.pid for process in processes])
    try:
        started = spin_until(executor, lambda: all(
            len(found) >= 2 for found in camera.latencies.values()) or _exited(processes),
            args.startup_timeout)
        if not started or _exited(processes):
            raise RuntimeError(f'{layout}, {count} cameras: no result from every camera within '
                               f'{args.startup_timeout:.0f} s, or a detector exited')
        before = {name: len(found) for name, found in camera.latencies.items()}
        gpu.start()
        spin_until(executor, lambda: False, args.duration)
        host_peak = sum(peak_rss_mb(process.pid) for process in processes)
    finally:
        gpu.stop()
        executor.shutdown()
        camera.destroy_node()
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
    timed = {name: found[before[name]:] for name, found in camera.latencies.items()}
    heat_maps = [found[2:] or found for found in camera.heatmap_latencies.values()]
    if any(len(found) < 2 for found in timed.values()):
        raise RuntimeError(f'{layout}, {count} cameras: a camera got fewer than 2 results')
    return {**parameters, 'layout': layout, 'cameras': count,
            'camera': f'{args.camera[0]}x{args.camera[1]}', 'camera_fps': args.camera_fps,
            'duration_s': args.duration,
            'clips_per_s': sum(len(found) for found in timed.values()) / args.duration,
            'clips_per_s_needed': count * args.camera_fps / args.stride,
            'latency_ms_p50': {name: statistics.median(found) * 1e3
                               for name, found in timed.items()},
            'latency_ms_p99': {name: _p99(found) * 1e3 for name, found in timed.items()},
            'latency_ms_p50_worst': max(statistics.median(found) for found in timed.values())
            * 1e3,
            'latency_ms_p99_worst': max(_p99(found) for found in timed.values()) * 1e3,
            'heatmap_ms_p99_worst': max(_p99(found) for found in heat_maps) * 1e3,
            'peak_host_mb': host_peak, 'peak_gpu_mb': gpu.peak}


def _p99(values: list[float]) -> float:
    return statistics.quantiles(values, n=100)[-1] if len(values) > 1 else values[0]


def peak_rss_mb(pid: int) -> float:
    """Return a process's peak resident memory (VmHWM), MB."""
    return int(proc_status(pid)['VmHWM'].split()[0]) / 1024


class GpuMemory:
    """
    Sample the GPU memory of processes each second (nvidia-smi) and keep the peak, MB.

    On a thread of its own: nvidia-smi takes tens of milliseconds, which on the executor's
    thread would count as heat-map latency. `peak` stays None without nvidia-smi.
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


def _exited(processes: list[subprocess.Popen]) -> bool:
    return any(process.poll() is not None for process in processes)
