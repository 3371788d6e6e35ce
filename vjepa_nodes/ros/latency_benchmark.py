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
`vjepa-benchmark --end-to-end`: latency from an image's stamp to its published score, over DDS.

The detector node runs as its own process, as `ros2 run` starts it. This process publishes
camera-sized Image messages stamped with the current time at the camera rate and listens to the
node's outputs. Per clip the node publishes the obstacle flag, the scores, then the heat map,
which carries the stamp of the clip's newest frame; the flag and scores carry no stamp. So the
latency is the heat map's arrival minus its stamp: transport in, waiting for the worker,
preprocessing, encoder, scoring, publishing, transport out. It bounds the stamp-to-score latency
from above by the time to pack and send one camera-sized float image.
DDS stays on this machine (ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST) in a private domain unless
the caller set ROS_DOMAIN_ID, so benchmark images never reach a robot's graph.
"""

import argparse
import json
import os
import statistics
import struct
import subprocess
import time

import rclpy
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import Image
from std_msgs.msg import Float32, Header

from vjepa_nodes.camera_sources import moving_demo_frames
from vjepa_nodes.ros.image_conversions import frame_to_image
from vjepa_nodes.ros.processes import node_process, private_dds_env
from vjepa_nodes.tools.arguments import split_model

OUTPUT_QOS = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)


class StampedCamera(Node):
    """Publish pre-rendered frames stamped now; record when scores and heat maps arrive."""

    def __init__(self, size: tuple[int, int], fps: float) -> None:
        super().__init__('latency_benchmark')
        height, width = size
        self.images = [frame_to_image(frame, 'rgb8', Header())
                       for frame in moving_demo_frames(width, height, fps, int(2 * fps))]
        self.sent = 0
        self.scores = 0
        self.latencies: list[float] = []  # heat map arrival - stamp
        self.camera = self.create_publisher(Image, 'image', QoSProfile(depth=1))
        # Raw: only the stamp is read, so a large heat map costs this process no decoding time
        # that would otherwise be counted as latency.
        self.create_subscription(Image, 'heatmap', self._on_heatmap, OUTPUT_QOS, raw=True)
        self.create_subscription(Float32, 'motion_score', self._on_score, OUTPUT_QOS)
        self.create_timer(1.0 / fps, self._publish)

    def _publish(self) -> None:
        image = self.images[self.sent % len(self.images)]
        image.header.stamp = self.get_clock().now().to_msg()
        self.camera.publish(image)
        self.sent += 1

    def _on_score(self, msg: Float32) -> None:
        self.scores += 1

    def _on_heatmap(self, serialized: bytes) -> None:
        now = self.get_clock().now().nanoseconds * 1e-9
        stamp = cdr_header_stamp(serialized)
        if stamp > 0:  # 0: the node no longer knew the frame's header; nothing to time
            self.latencies.append(now - stamp)


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


def cdr_header_stamp(serialized: bytes) -> float:
    """Return the stamp (s) of a serialized message that starts with a std_msgs/Header."""
    # 4-byte encapsulation (byte 1: 1 little-endian, 0 big-endian), then int32 sec, uint32 ns.
    seconds, nanoseconds = struct.unpack_from('<iI' if serialized[1] == 1 else '>iI',
                                              serialized, 4)
    return seconds + nanoseconds * 1e-9


def run_end_to_end(args: argparse.Namespace) -> int:
    """Start the detector node, stream images for `args.duration` s after its first result."""
    os.environ.update(private_dds_env())
    height, width = args.camera
    parameters = detector_parameters(args)
    detector = node_process('obstacle_detector_node', parameters, dict(os.environ))
    rclpy.init()
    camera = StampedCamera((height, width), args.camera_fps)
    executor = SingleThreadedExecutor()
    executor.add_node(camera)
    try:
        ready = spin_until(
            executor, lambda: camera.latencies or detector.poll() is not None,
            args.startup_timeout)
        if detector.poll() is not None:
            print(f'error: the detector node exited with {detector.returncode} (see its log)')
            return 1
        if not ready:
            print('error: the detector node produced no result within '
                  f'{args.startup_timeout:.0f} s (see its log above)')
            return 1
        warm = len(camera.latencies) + 2  # the first clips include compilation and warm-up
        sent_before = camera.sent
        spin_until(executor, lambda: detector.poll() is not None, args.duration)
        if detector.poll() is not None:
            print(f'error: the detector node exited with {detector.returncode} while timed')
            return 1
        sent, latencies = camera.sent - sent_before, camera.latencies[warm:]
    finally:
        executor.shutdown()
        camera.destroy_node()
        rclpy.try_shutdown()
        detector.terminate()
        try:
            detector.wait(timeout=10)
        except subprocess.TimeoutExpired:
            detector.kill()
    if len(latencies) < 2:
        print('error: fewer than 2 clips were scored after warm-up')
        return 1
    row = {**parameters, 'camera': f'{height}x{width}', 'camera_fps': args.camera_fps,
           'duration_s': args.duration, 'images_sent': sent, 'clips_scored': len(latencies),
           'scores_received': camera.scores,  # depth-1 topics: the newest wins
           'latency_ms_p50': statistics.median(latencies) * 1e3,
           'latency_ms_p90': statistics.quantiles(latencies, n=10)[-1] * 1e3,
           'latency_ms_max': max(latencies) * 1e3}
    for key, value in row.items():
        print(f'{key:>18}  {value:.1f}' if isinstance(value, float) else f'{key:>18}  {value}')
    with open(args.json, 'w') as out:
        json.dump({'end_to_end': row}, out, indent=1)
    print(f'wrote {args.json}')
    return 0


def spin_until(executor: SingleThreadedExecutor, done, timeout: float) -> bool:
    """Spin until `done()` or `timeout` s; return done()."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if done():
            return True
        executor.spin_once(timeout_sec=0.05)
    return bool(done())
