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

The camera (synthetic scene), the detector (V-JEPA 2) and the avoidance node run as three
processes; this one prints a line per clip and writes a plot and a heat-map overlay snapshot.
"""

import argparse
import os
from pathlib import Path
import subprocess
import sys
import time

import cv2
import numpy as np
import rclpy
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy

from vjepa_nodes.ros.processes import node_process, private_dds_env

QOS = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
BANNER = '!' * 78


class Monitor(Node):
    """Listen to every output and keep a time series for the plot."""

    def __init__(self) -> None:
        from diagnostic_msgs.msg import DiagnosticArray
        from geometry_msgs.msg import Twist
        from sensor_msgs.msg import Image
        from std_msgs.msg import Bool, Float32, Float32MultiArray, String
        super().__init__('demo_monitor')
        self.start = time.monotonic()
        self.rows: list[dict] = []
        self.obstacle, self.state, self.command, self.latency = False, '-', (0.0, 0.0), '-'
        self.score = 0.0
        self.overlay: np.ndarray | None = None
        self.create_subscription(Float32MultiArray, 'region_scores', self._on_regions, QOS)
        self.create_subscription(Bool, 'obstacle', self._on_obstacle, QOS)
        self.create_subscription(Float32, 'motion_score', self._on_score, QOS)
        self.create_subscription(String, 'avoidance_state', self._on_state, QOS)
        self.create_subscription(Twist, 'cmd_vel', self._on_command, QOS)
        self.create_subscription(Image, 'debug_image', self._on_overlay, QOS)
        self.create_subscription(DiagnosticArray, '/diagnostics', self._on_diagnostics, QOS)

    def _on_regions(self, msg) -> None:
        from vjepa_nodes.ros.score_messages import region_scores_from_msg
        regions = region_scores_from_msg(msg)
        row = {'t': time.monotonic() - self.start, **regions,
               'score': self.score, 'obstacle': self.obstacle,
               'linear': self.command[0], 'angular': self.command[1]}
        self.rows.append(row)
        print(f"t={row['t']:6.1f}s  score {self.score:.3f}  L {regions['left']:.3f}  "
              f"C {regions['center']:.3f}  R {regions['right']:.3f}  "
              f"obstacle={'YES' if self.obstacle else 'no '}  "
              f'state={self.state:<10} cmd=({self.command[0]:+.2f} m/s, '
              f'{self.command[1]:+.2f} rad/s)  latency p50={self.latency} ms', flush=True)

    def _on_score(self, msg) -> None:
        self.score = msg.data  # published just before the region scores of the same clip

    def _on_obstacle(self, msg) -> None:
        self.obstacle = msg.data

    def _on_state(self, msg) -> None:
        self.state = msg.data.split(':')[0]

    def _on_command(self, msg) -> None:
        self.command = (msg.linear.x, msg.angular.z)

    def _on_overlay(self, msg) -> None:
        self.overlay = np.frombuffer(msg.data, np.uint8).reshape(msg.height, msg.width, 3)

    def _on_diagnostics(self, msg) -> None:
        for status in msg.status:
            values = {kv.key: kv.value for kv in status.values}
            self.latency = values.get('latency p50 (ms)', self.latency)


def write_plot(rows: list[dict], path: Path) -> None:
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    t = [r['t'] for r in rows]
    figure, (scores, flag, command) = plt.subplots(3, 1, sharex=True, figsize=(9, 7))
    for key in ('left', 'center', 'right', 'score'):
        scores.plot(t, [r[key] for r in rows], label=key, linewidth=2 if key == 'score' else 1)
    scores.set_ylabel('motion score')
    scores.legend(loc='upper right')
    flag.step(t, [int(r['obstacle']) for r in rows], where='post')
    flag.set_ylabel('obstacle flag')
    command.plot(t, [r['linear'] for r in rows], label='linear (m/s)')
    command.plot(t, [r['angular'] for r in rows], label='angular (rad/s)')
    command.set_ylabel('cmd_vel')
    command.set_xlabel('time since start (s)')
    command.legend(loc='upper right')
    figure.tight_layout()
    figure.savefig(path, dpi=100)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--duration', type=float, default=90.0, help='seconds of detection')
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
    detector = {'model_size': args.model_size, 'img_size': args.img_size,
                'num_frames': args.num_frames, 'stride': args.stride, 'device': 'auto',
                **({'checkpoint': args.checkpoint} if args.checkpoint
                   else {'allow_random_weights': 'true'})}
    processes = [
        node_process('camera_node', {'source': 'synthetic', 'fps': args.fps, 'width': 320,
                                     'height': 240, 'seed': 7}, env),
        node_process('obstacle_detector_node', detector, env),
        # A CPU analyses a clip every second or two: allow for it before calling input stale.
        # No robot is attached, so the demo starts with the e-stop released.
        node_process('collision_avoidance_node', {
            'rate': 10.0, 'timeout': 3.0, 'max_perception_age': 5.0, 'start_latched': False},
            env),
    ]
    rclpy.init()
    monitor = Monitor()
    try:
        deadline = time.monotonic() + args.duration
        while time.monotonic() < deadline and all(p.poll() is None for p in processes):
            rclpy.spin_once(monitor, timeout_sec=0.1)
    except KeyboardInterrupt:
        pass
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
    args.out_dir.mkdir(parents=True, exist_ok=True)
    rows, overlay = monitor.rows, monitor.overlay
    monitor.destroy_node()
    rclpy.try_shutdown()
    if not rows:
        print('no clip was scored: see the node logs above', file=sys.stderr)
        return 1
    write_plot(rows, args.out_dir / 'demo_plot.png')
    if overlay is not None:
        cv2.imwrite(str(args.out_dir / 'demo_overlay.png'), overlay[..., ::-1])
    print(f'{len(rows)} clips scored; wrote {args.out_dir / "demo_plot.png"}'
          + ('' if overlay is None else f' and {args.out_dir / "demo_overlay.png"}'))
    return 0


if __name__ == '__main__':
    sys.exit(main())
