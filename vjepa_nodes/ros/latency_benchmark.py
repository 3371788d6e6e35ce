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
`vjepa-benchmark --end-to-end`: from an image's stamp to the `cmd_vel` that acts on it, over DDS.

The nodes run as their own processes, as `ros2 launch` starts them: the detector (for N cameras,
one process for all, or one per camera, or one for all without stagger_clips: `--layouts`) and
collision_avoidance reading every camera. This process publishes N camera streams
(`c0/image`, ...) stamped now, at `--camera-fps`, and listens to each camera's `perception` and
heat map and to `cmd_vel`. The command that first reflects a clip is the first one published
after the clip's perception (the avoidance node commands as each perception arrives). Per clip,
back to back:
- receive, wait, preprocess, encode, score: the detector's own timings in `perception`
  (stamp -> image taken, -> clip taken by the worker, -> model starts, -> model done ->
  this camera's result);
- publish: the rest until `perception` was published (the other cameras of the batch, the
  message);
- avoidance: -> `cmd_vel` published (transport, policy); deliver: -> `cmd_vel` received here.
Publication times are the DDS source timestamps (rclpy's message info, Jazzy and later; on
Humble the arrival here stands in for them). Everything runs in a namespace of its own
(NAMESPACE) on loopback DDS in a private domain unless the caller set ROS_DOMAIN_ID, so neither
images nor commands reach a robot's graph. Clips count from every camera's second result on.
"""

import argparse
from bisect import bisect_right
from dataclasses import dataclass
import json
import os
import statistics
import struct
import subprocess
import time

from diagnostic_msgs.msg import DiagnosticArray
from geometry_msgs.msg import Twist
import rclpy
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy
from rclpy.subscription import Subscription
from sensor_msgs.msg import Image
from std_msgs.msg import Header

from vjepa_nodes.camera_sources import moving_demo_frames
from vjepa_nodes.image_messages import stamp_seconds
from vjepa_nodes.perception.message_layout import timings_from_values
from vjepa_nodes.ros.image_conversions import frame_to_image
from vjepa_nodes.ros.process_memory import GpuMemory, peak_rss_mb
from vjepa_nodes.ros.processes import node_process, private_dds_env
from vjepa_nodes.tools.arguments import split_model
from vjepa_nodes.tools.machine import machine_info
from vjepa_nodes.tools.tables import align

NAMESPACE = '/vjepa_benchmark'
DETECTOR_STAGES = ('receive', 'wait', 'preprocess', 'encode', 'score')
STAGES = (*DETECTOR_STAGES, 'publish', 'avoidance', 'deliver')
OUTPUT_QOS = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
# Jazzy and later hand a callback of two arguments the message info (DDS timestamps).
MESSAGE_INFO = hasattr(getattr(Subscription, 'CallbackType', None), 'WithMessageInfo')
SUMMARY = (('layout', 'layout', '{}'), ('cameras', 'cameras', '{}'),
           ('clips/s', 'clips_per_s', '{:.1f}'), ('needed', 'clips_per_s_needed', '{:.1f}'),
           ('perception p50 (worst cam)', 'perception_ms_p50_worst', '{:.1f}'),
           ('perception p99 (worst cam)', 'perception_ms_p99_worst', '{:.1f}'),
           ('perception p99 (all)', 'perception_ms_p99_all', '{:.1f}'),
           ('cmd_vel p50', 'cmd_vel_ms_p50', '{:.1f}'),
           ('cmd_vel p99', 'cmd_vel_ms_p99', '{:.1f}'),
           ('cmd_vel max', 'cmd_vel_ms_max', '{:.1f}'),
           ('heat map p99', 'heatmap_ms_p99_worst', '{:.1f}'),
           ('sharing a frame', 'clips_sharing_a_frame', '{:.0%}'),
           ('host MB', 'peak_host_mb', '{:.0f}'), ('GPU MB', 'peak_gpu_mb', '{}'))


@dataclass(frozen=True)
class Arrival:
    """When a message was published and when it arrived here, s on the system clock."""

    published: float
    received: float


@dataclass(frozen=True)
class SeenPerception:
    stamp: float  # the clip's newest image's
    arrival: Arrival
    timings: dict[str, float]  # the detector's stages, s


class Cameras(Node):
    """Publish N stamped camera streams; record their perceptions, heat maps and cmd_vel."""

    def __init__(self, names: list[str], size: tuple[int, int], fps: float) -> None:
        super().__init__('latency_benchmark', namespace=NAMESPACE)
        height, width = size
        self.images = [frame_to_image(frame, 'rgb8', Header())
                       for frame in moving_demo_frames(width, height, fps, int(2 * fps))]
        self.sent = 0
        self.perceptions: dict[str, list[SeenPerception]] = {name: [] for name in names}
        self.heatmaps: dict[str, list[tuple[float, float]]] = {name: [] for name in names}
        self.commands: list[Arrival] = []
        self.cameras = {name: self.create_publisher(Image, f'{name}/image', QoSProfile(depth=1))
                        for name in names}
        for name in names:
            self._subscribe(DiagnosticArray, f'{name}/perception', False,
                            lambda msg, arrival, name=name:
                            self._on_perception(name, msg, arrival))
            # Raw: only the stamp is read, so a large heat map costs this process no decoding.
            self._subscribe(Image, f'{name}/heatmap', True,
                            lambda data, arrival, name=name:
                            self._on_heatmap(name, data, arrival))
        self._subscribe(Twist, 'cmd_vel', True,
                        lambda data, arrival: self.commands.append(arrival))
        self.create_timer(1.0 / fps, self._publish)

    def _subscribe(self, kind, topic: str, raw: bool, handle) -> None:
        if MESSAGE_INFO:
            callback = (lambda msg, info: handle(msg, Arrival(
                info['source_timestamp'] * 1e-9, info['received_timestamp'] * 1e-9)))
        else:
            callback = (lambda msg: handle(msg, Arrival(*[self._now()] * 2)))
        self.create_subscription(kind, topic, callback, OUTPUT_QOS, raw=raw)

    def _now(self) -> float:
        return self.get_clock().now().nanoseconds * 1e-9

    def _publish(self) -> None:
        stamp = self.get_clock().now().to_msg()
        for index, publisher in enumerate(self.cameras.values()):
            image = self.images[(self.sent + 7 * index) % len(self.images)]
            image.header.stamp = stamp
            publisher.publish(image)
        self.sent += 1

    def _on_perception(self, name: str, msg: DiagnosticArray, arrival: Arrival) -> None:
        values = {item.key: item.value for status in msg.status for item in status.values}
        self.perceptions[name].append(
            SeenPerception(stamp_seconds(msg.header), arrival, timings_from_values(values)))

    def _on_heatmap(self, name: str, serialized: bytes, arrival: Arrival) -> None:
        stamp = cdr_header_stamp(serialized)
        if stamp > 0:  # 0: the node no longer knew the frame's header; nothing to time
            self.heatmaps[name].append((stamp, arrival.received - stamp))


def cdr_header_stamp(serialized: bytes) -> float:
    """Return the stamp (s) of a serialized message that starts with a std_msgs/Header."""
    # 4-byte encapsulation (byte 1: 1 little-endian, 0 big-endian), then int32 sec, uint32 ns.
    seconds, nanoseconds = struct.unpack_from('<iI' if serialized[1] == 1 else '>iI',
                                              serialized, 4)
    return seconds + nanoseconds * 1e-9


def clip_latencies(seen: list[SeenPerception], commands: list[Arrival]) -> list[dict]:
    """
    Return each timed clip's seconds: stamp -> perception and -> cmd_vel, and every stage.

    Failed clips (no stamp or no timings) and clips no command followed are left out.
    """
    commands = sorted(commands, key=lambda command: command.published)
    published = [command.published for command in commands]
    clips = []
    for perception in seen:
        found = bisect_right(published, perception.arrival.published)
        if (perception.stamp <= 0 or found == len(commands)
                or set(perception.timings) != set(DETECTOR_STAGES)):
            continue
        command, arrival = commands[found], perception.arrival
        clips.append({
            'stamp': perception.stamp,
            'perception': arrival.received - perception.stamp,
            'cmd_vel': command.received - perception.stamp, **perception.timings,
            'publish': (arrival.published - perception.stamp
                        - sum(perception.timings.values())),
            'avoidance': command.published - arrival.published,
            'deliver': command.received - command.published})
    return clips


def detector_parameters(args: argparse.Namespace) -> dict:
    """Return the detector node's parameters: the first of each benchmark list."""
    size, version = split_model(args.model_sizes[0])
    # The backend is named, not left to auto (mlx on a Mac), so that each row says what ran.
    return {'model_size': size, 'model_version': version, 'backend': args.backends[0],
            'num_frames': args.frames[0],
            'img_size': args.resolutions[0][0], 'device': args.devices[0],
            'precision': args.precisions[0], 'fast_path': args.fast_paths[-1],
            'stride': args.stride, 'image_reliability': 'reliable',
            **({'checkpoint': args.checkpoint} if args.checkpoint
               else {'allow_random_weights': 'true'})}


def run_end_to_end(args: argparse.Namespace) -> int:
    """Run every camera count in its layouts; print the tables and write JSON."""
    os.environ.update(private_dds_env())
    rows = []
    rclpy.init()
    try:
        for count in args.cameras:
            for layout in args.layouts if count > 1 else args.layouts[:1]:
                rows.append(_case(args, layout, count))
                print(_tables(rows[-1:]), flush=True)
    finally:
        rclpy.try_shutdown()
    with open(args.json, 'w') as out:
        json.dump({'machine': machine_info(), 'end_to_end': rows}, out, indent=1)
    print(_tables(rows))
    print(f'wrote {args.json}')
    return 0


def _tables(rows: list[dict]) -> str:
    summary = align([[name for name, _, _ in SUMMARY]]
                    + [[form.format(row[key]) for _, key, form in SUMMARY] for row in rows])
    stages = align([['ms p50 / p99', 'cameras', *STAGES]] + [
        [row['layout'], str(row['cameras']),
         *(f'{row["stage_ms_p50"][stage]:.1f} / {row["stage_ms_p99"][stage]:.1f}'
           for stage in STAGES)] for row in rows])
    return f'{summary}\n{stages}'


def _case(args: argparse.Namespace, layout: str, count: int) -> dict:
    names = [f'c{index}' for index in range(count)]
    parameters = detector_parameters(args)
    env = dict(os.environ)
    if layout != 'separate':
        detectors = [node_process('obstacle_detector_node',
                                  {**parameters, 'cameras': names,
                                   'stagger_clips': layout == 'batched'},
                                  env, ('-r', f'__ns:={NAMESPACE}'))]
    else:
        detectors = [node_process('obstacle_detector_node', parameters, env,
                                  ('-r', f'__ns:={NAMESPACE}/{name}')) for name in names]
    avoidance = node_process('collision_avoidance_node',
                             {'cameras': names, 'estop_heartbeat': 0.0}, env,
                             ('-r', f'__ns:={NAMESPACE}'))
    processes = [*detectors, avoidance]
    camera = Cameras(names, args.camera, args.camera_fps)
    executor = SingleThreadedExecutor()
    executor.add_node(camera)
    gpu = GpuMemory([process.pid for process in detectors])
    try:
        started = spin_until(executor, lambda: all(
            len(seen) >= 2 for seen in camera.perceptions.values()) and camera.commands
            or _exited(processes), args.startup_timeout)
        if not started or _exited(processes):
            raise RuntimeError(f'{layout}, {count} camera(s): no result from every camera '
                               f'within {args.startup_timeout:.0f} s, or a node exited with '
                               f'{[process.poll() for process in processes]} (see its log)')
        timed_from = time.time()
        gpu.start()
        spin_until(executor, lambda: _exited(processes), args.duration)
        if _exited(processes):
            raise RuntimeError(f'{layout}, {count} camera(s): a node exited while timed')
        host_peak = sum(peak_rss_mb(process.pid) for process in detectors)
    finally:
        gpu.stop()
        executor.shutdown()
        camera.destroy_node()
        _stop(processes)
    clips = {name: clip_latencies([perception for perception in seen
                                   if perception.stamp >= timed_from], camera.commands)
             for name, seen in camera.perceptions.items()}
    if any(len(found) < 2 for found in clips.values()):
        raise RuntimeError(f'{layout}, {count} camera(s): a camera got fewer than 2 clips '
                           'through to cmd_vel')
    return {**parameters, 'layout': layout, 'cameras': count,
            'camera': f'{args.camera[0]}x{args.camera[1]}', 'camera_fps': args.camera_fps,
            'duration_s': args.duration, 'timed_from_unix_s': round(timed_from, 1),
            'message_info': MESSAGE_INFO,
            **_statistics(clips, {name: [latency for stamp, latency in found
                                         if stamp >= timed_from]
                                  for name, found in camera.heatmaps.items()}),
            'clips_per_s_needed':
            count * args.camera_fps / args.stride,
            'clips_per_s': sum(len(found) for found in clips.values()) / args.duration,
            'peak_host_mb': host_peak, 'peak_gpu_mb': gpu.peak}


def _statistics(clips: dict[str, list[dict]], heatmaps: dict[str, list[float]]) -> dict:
    """Return the row's latencies, ms: per camera, the worst camera's, and over every clip."""
    every = [clip for found in clips.values() for clip in found]
    perception = {name: [clip['perception'] for clip in found] for name, found in clips.items()}
    commands = [clip['cmd_vel'] for clip in every]
    return {
        'perception_ms_p50': {name: _ms(statistics.median(found))
                              for name, found in perception.items()},
        'perception_ms_p99': {name: _ms(_p99(found)) for name, found in perception.items()},
        'perception_ms_p50_worst': _ms(max(map(statistics.median, perception.values()))),
        'perception_ms_p99_worst': _ms(max(map(_p99, perception.values()))),
        # Over every camera's clips: steadier than the worst camera's, of a few dozen clips.
        'perception_ms_p99_all': _ms(_p99([clip['perception'] for clip in every])),
        'cmd_vel_ms_p50': _ms(statistics.median(commands)),
        'cmd_vel_ms_p99': _ms(_p99(commands)), 'cmd_vel_ms_max': _ms(max(commands)),
        'cmd_vel_ms_p99_worst': _ms(max(_p99([clip['cmd_vel'] for clip in found])
                                        for found in clips.values())),
        'stage_ms_p50': _stage_ms(every, statistics.median),
        'stage_ms_p99': _stage_ms(every, _p99),
        # Per camera: which camera's clips wait where (e.g. images taken one after another).
        'camera_stage_ms_p50': {name: _stage_ms(found, statistics.median)
                                for name, found in clips.items()},
        'camera_stage_ms_p99': {name: _stage_ms(found, _p99) for name, found in clips.items()},
        'heatmap_ms_p99_worst': _ms(max((_p99(found) for found in heatmaps.values() if found),
                                        default=float('nan'))),
        'clips_sharing_a_frame': shared_frames({name: [clip['stamp'] for clip in found]
                                                for name, found in clips.items()}),
        'clips_timed': len(every)}


def _stage_ms(clips: list[dict], percentile) -> dict[str, float]:
    """Return `percentile` of each stage over `clips`, ms."""
    return {stage: _ms(percentile([clip[stage] for clip in clips])) for stage in STAGES}


def shared_frames(stamps: dict[str, list[float]]) -> float:
    """
    Return the share of clips whose newest frame is also another camera's clip's newest.

    The benchmark stamps every camera's image of one tick alike, so this counts clips that
    were ready together: what `stagger_clips` is to prevent.
    """
    cameras_of: dict[float, set[str]] = {}
    for name, found in stamps.items():
        for stamp in found:
            cameras_of.setdefault(stamp, set()).add(name)
    clips = [len(cameras_of[stamp]) > 1 for found in stamps.values() for stamp in found]
    return sum(clips) / len(clips) if clips else 0.0


def _ms(seconds: float) -> float:
    return round(seconds * 1e3, 3)


def _p99(values: list[float]) -> float:
    # Inclusive: within the values measured, never above the largest.
    return statistics.quantiles(values, n=100, method='inclusive')[-1] if len(
        values) > 1 else values[0]


def _exited(processes: list[subprocess.Popen]) -> bool:
    return any(process.poll() is not None for process in processes)


def _stop(processes: list[subprocess.Popen]) -> None:
    for process in processes:
        process.terminate()
    for process in processes:
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()


def spin_until(executor: SingleThreadedExecutor, done, timeout: float) -> bool:
    """Spin until `done()` or `timeout` s; return done()."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if done():
            return True
        executor.spin_once(timeout_sec=0.05)
    return bool(done())
