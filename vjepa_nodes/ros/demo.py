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
The demo: camera, obstacle detector and collision avoidance over real DDS, for a bounded time.

The camera (the synthetic corridor scene), the detector (V-JEPA 2) and the avoidance node run
as three processes on a private ROS domain; this one prints progress while the model loads and
the first clips fill, then a line per scored clip, and at the end writes a plot of scores, flag
and commands over time and, for the left, centre and right, the clip with the most motion
there, its heat map on top.
"""

import argparse
import os
from pathlib import Path
import signal
import subprocess
import sys
import time
from typing import NamedTuple

import cv2
from diagnostic_msgs.msg import DiagnosticArray
from geometry_msgs.msg import Twist
import numpy as np
import rclpy
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import Image
from std_msgs.msg import String

from vjepa_nodes.image_messages import stamp_seconds
from vjepa_nodes.perception.config import REGIONS
from vjepa_nodes.ros.processes import DEMO_NAMESPACE, node_process, private_dds_env
from vjepa_nodes.ros.score_messages import perception_from_msg
from vjepa_nodes.timeline import write_plot

QOS = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
BANNER = '!' * 78
PROGRESS_PERIOD = 3.0  # s between progress lines until the first scores
STOP_WAIT = 10.0  # s a node may take to stop after SIGINT
PENDING_LIMIT = 50  # clips whose scores or overlay wait for the other half


class Snapshot(NamedTuple):
    """The overlay of one scored clip, for the picture at the end."""

    score: float  # of the region where it saw the most motion
    image: np.ndarray
    caption: str


class Monitor(Node):
    """Listen to every output; keep a time series for the plot and the clip with most motion."""

    def __init__(self, num_frames: int) -> None:
        super().__init__('demo_monitor', namespace=DEMO_NAMESPACE)
        self.start = time.monotonic()
        self.num_frames = num_frames
        self.rows: list[dict] = []
        self.state, self.command, self.latency = '-', (0.0, 0.0), '-'
        self.detector_ready = False
        self.frames_since_ready = 0
        self.clips = 0  # analysed clips, the first one (no reference, no scores) included
        # A clip's overlay and perception message arrive on two topics, in either order.
        self._halves: dict[float, dict] = {}  # stamp -> what arrived of that clip
        self.snapshots: dict[str, Snapshot] = {}  # region -> its clip with the most motion
        for kind, topic, callback in (
                (DiagnosticArray, 'perception', self._on_perception),
                (Image, 'debug_image', self._on_overlay),
                (String, 'avoidance_state', self._on_state), (Twist, 'cmd_vel', self._on_command),
                (Image, 'image', self._on_image),
                (DiagnosticArray, '/diagnostics', self._on_diagnostics)):
            self.create_subscription(kind, topic, callback, QOS)

    def elapsed(self) -> float:
        return time.monotonic() - self.start

    def progress(self) -> str:
        """Say what the pipeline is waiting for before its first scores."""
        if not self.detector_ready:
            return 'starting the nodes; the detector loads its model'
        if self.clips == 0:
            frames = min(self.frames_since_ready, self.num_frames)
            return f'buffering the first clip: {frames} of {self.num_frames} frames'
        return ('first clip analysed; scores start with the next one (motion is the change '
                'between clips)')

    def _on_state(self, msg) -> None:
        self.state = msg.data.split(':')[0]

    def _on_command(self, msg) -> None:
        self.command = (msg.linear.x, msg.angular.z)

    def _on_image(self, msg) -> None:
        self.frames_since_ready += self.detector_ready

    def _on_perception(self, msg) -> None:
        # One message per clip holds all its results: no pairing of topics by arrival.
        report = perception_from_msg(msg)
        self.clips += 1
        if not report.has_reference:  # the first clip after a start: nothing to compare with
            return
        regions = report.region_scores
        self._pair(report.stamp, regions=regions)
        row = {'t': self.elapsed(), **regions, 'score': report.motion_score,
               'obstacle': report.obstacle, 'state': self.state, 'linear': self.command[0],
               'angular': self.command[1]}
        self.rows.append(row)
        print(f"t={row['t']:6.1f}s  score {row['score']:.3f}  L {regions['left']:.3f}  "
              f"C {regions['center']:.3f}  R {regions['right']:.3f}  "
              f"obstacle={'YES' if report.obstacle else 'no '}  "
              f'state={self.state:<10} cmd=({self.command[0]:+.2f} m/s, '
              f'{self.command[1]:+.2f} rad/s)  latency p50={self.latency} ms'
              + (f'  PROBLEM: {report.problem}' if report.problem else ''), flush=True)

    def _on_overlay(self, msg) -> None:
        image = np.frombuffer(msg.data, np.uint8).reshape(msg.height, msg.width, 3).copy()
        self._pair(stamp_seconds(msg.header), image=image)

    def _pair(self, stamp: float, **half) -> None:
        """Join a clip's `regions` and overlay `image` by stamp; keep each region's best clip."""
        clip = self._halves.setdefault(stamp, {})
        clip.update(half)
        if len(clip) < 2:  # the other half has not arrived yet
            while len(self._halves) > PENDING_LIMIT:  # halves whose other half never came
                del self._halves[next(iter(self._halves))]
            return
        del self._halves[stamp]
        regions, image = clip['regions'], clip['image']
        region = max(regions, key=regions.get)
        best = self.snapshots.get(region)
        if best is not None and regions[region] <= best.score:
            return
        caption = (f't={self.elapsed():.0f}s  most motion {region} ({regions[region]:.2f})  '
                   f'{self.state} ({self.command[0]:+.2f} m/s, {self.command[1]:+.2f} rad/s)')
        self.snapshots[region] = Snapshot(regions[region], image, caption)

    def _on_diagnostics(self, msg) -> None:
        for status in msg.status:
            values = {kv.key: kv.value for kv in status.values}
            if 'obstacle detector' in status.name:
                self.detector_ready = self.detector_ready or 'model' in values
                self.latency = values.get('latency p50 (ms)', self.latency)


def write_snapshots(snapshots: dict[str, Snapshot], path: Path) -> None:
    """Write the snapshots side by side, left to right, each twice as large and captioned."""
    panels = []
    for snapshot in (snapshots[region] for region in REGIONS if region in snapshots):
        image = snapshot.image
        large = cv2.resize(image, (image.shape[1] * 2, image.shape[0] * 2),
                           interpolation=cv2.INTER_LINEAR)
        strip = np.full((36, large.shape[1], 3), 30, np.uint8)
        cv2.putText(strip, snapshot.caption, (8, 24), cv2.FONT_HERSHEY_SIMPLEX, 0.5,
                    (255, 255, 255), 1, cv2.LINE_AA)
        panels.append(np.vstack([large, strip]))
    cv2.imwrite(str(path), np.hstack(panels)[..., ::-1])


def stop(processes: list[subprocess.Popen]) -> list[int]:
    """Stop the nodes as Ctrl-C under ros2 launch does; return their exit codes."""
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
    codes = []
    for process in processes:
        try:
            codes.append(process.wait(timeout=STOP_WAIT))
        except subprocess.TimeoutExpired:
            process.kill()
            codes.append(process.wait())
    return codes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--duration', type=float, default=90.0, help='seconds of detection')
    parser.add_argument('--model-version', default='2')
    parser.add_argument('--model-size', default='large')
    parser.add_argument('--img-size', type=int, default=128)
    parser.add_argument('--num-frames', type=int, default=8)
    parser.add_argument('--stride', type=int, default=4)
    parser.add_argument('--fps', type=float, default=8.0)
    parser.add_argument('--checkpoint', default='')
    parser.add_argument('--out-dir', type=Path, default=Path('outputs'))
    args = parser.parse_args(argv)
    env = private_dds_env()
    os.environ.update(env)
    if not args.checkpoint:
        print(f'{BANNER}\n!! RANDOM WEIGHTS: the encoder is not pretrained, so the scores only '
              'show the pipeline.\n!! Give real weights: VJEPA_CHECKPOINT=<.pt | .safetensors | '
              'HF id> bash scripts/demo.sh\n' + BANNER, flush=True)
    detector = {'model_version': args.model_version, 'model_size': args.model_size,
                'img_size': args.img_size,
                'num_frames': args.num_frames, 'stride': args.stride, 'device': 'auto',
                **({'checkpoint': args.checkpoint} if args.checkpoint
                   else {'allow_random_weights': True})}
    namespace = ('-r', f'__ns:={DEMO_NAMESPACE}')
    processes = [
        node_process('camera_node', {'source': 'synthetic', 'fps': args.fps, 'width': 320,
                                     'height': 240, 'seed': 7}, env, namespace),
        node_process('obstacle_detector_node', detector, env, namespace),
        # A CPU analyses a clip every second or two: allow for it before calling input stale.
        # No e-stop needed, released at start: in DEMO_NAMESPACE its cmd_vel drives no robot.
        node_process('collision_avoidance_node', {
            'rate': 10.0, 'timeout': 3.0, 'max_perception_age': 5.0, 'start_latched': False,
            'estop_heartbeat': 0.0},
            env, namespace),
    ]
    rclpy.init()
    monitor = Monitor(args.num_frames)
    deadline, next_progress = monitor.start + args.duration, monitor.start
    try:
        while time.monotonic() < deadline and all(p.poll() is None for p in processes):
            rclpy.spin_once(monitor, timeout_sec=0.1)
            if not monitor.rows and time.monotonic() >= next_progress:
                print(f'[{monitor.elapsed():5.1f} s] {monitor.progress()}', flush=True)
                next_progress += PROGRESS_PERIOD
    except KeyboardInterrupt:
        pass
    finally:
        codes = stop(processes)
    rows, snapshots = monitor.rows, monitor.snapshots
    monitor.destroy_node()
    rclpy.try_shutdown()
    if any(codes):
        print(f'a node exited with an error (camera, detector, avoidance: {codes}): see its '
              'log above', file=sys.stderr)
    if not rows:
        print('no clip was scored: see the node logs above', file=sys.stderr)
        return 1
    args.out_dir.mkdir(parents=True, exist_ok=True)
    write_plot(rows, args.out_dir / 'demo_plot.png',
               'camera clips -> V-JEPA motion scores -> obstacle flag -> cmd_vel')
    written = [args.out_dir / 'demo_plot.png']
    if snapshots:
        write_snapshots(snapshots, args.out_dir / 'demo_overlay.png')
        written.append(args.out_dir / 'demo_overlay.png')
    flagged = sum(row['obstacle'] for row in rows)
    print(f'{len(rows)} clips scored, obstacle flag on for {flagged}; nodes stopped cleanly '
          f'(exit codes {codes}); wrote {" and ".join(map(str, written))}')
    return 1 if any(codes) else 0


if __name__ == '__main__':
    sys.exit(main())
