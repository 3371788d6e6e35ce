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
What one rclpy process pays to take N cameras' images, and in what order they arrive.

    python3 scripts/intake_cost.py --mode message|raw|threads
(with ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST, a private ROS_DOMAIN_ID and, as measured,
FASTDDS_DEFAULT_PROFILES_FILE=config/fastdds_large_images.xml)
starts a process that publishes N 480x640 rgb8 images on one tick at 30 Hz (as the end-to-end
benchmark does), subscribes to them here with a callback that only makes each image a frame,
as the detector does (`message`: the usual message objects; `raw`: serialized bytes read in
place by image_cdr, as the detector takes them; `threads`: messages on a MultiThreadedExecutor
with a callback group per camera), and prints the CPU this process spent per image and each
camera's stamp -> callback p50 in publication order (docs/PERFORMANCE.md quotes it).
`--mode decode` leaves DDS out: it times, in this process, one serialized image made a frame
through a message object and read in place.
"""

import argparse
import resource
import statistics
import subprocess
import sys
import time
import timeit

import numpy as np
import rclpy
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup
from rclpy.executors import MultiThreadedExecutor, SingleThreadedExecutor
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy
from rclpy.serialization import deserialize_message, serialize_message
from sensor_msgs.msg import Image
from std_msgs.msg import Header

from vjepa_nodes.image_cdr import parse_image
from vjepa_nodes.image_messages import image_to_frame, stamp_seconds
from vjepa_nodes.ros.image_conversions import frame_to_image

WARM_UP = 3.0  # s before counting


def publish(cameras: int) -> None:
    """Publish `cameras` topics c<k>/image, all on one tick, 30 times a second."""
    rclpy.init()
    node = Node('intake_cost_cameras')
    image = frame_to_image(np.random.default_rng(0).integers(0, 255, (480, 640, 3), np.uint8),
                           'rgb8', Header())
    publishers = [node.create_publisher(Image, f'c{index}/image', QoSProfile(depth=1))
                  for index in range(cameras)]

    def tick() -> None:
        image.header.stamp = node.get_clock().now().to_msg()
        for publisher in publishers:
            publisher.publish(image)
    node.create_timer(1 / 30, tick)
    rclpy.spin(node)


def measure(cameras: int, mode: str, seconds: float) -> None:
    """Subscribe to the cameras; print CPU per image and each camera's lag p50."""
    rclpy.init()
    node = Node('intake_cost')
    lags: list[list[float]] = [[] for _ in range(cameras)]

    def on_image(index: int):
        def callback(msg) -> None:
            image = parse_image(msg) if mode == 'raw' else msg
            image_to_frame(image)
            stamp = stamp_seconds(image.header)
            lags[index].append(node.get_clock().now().nanoseconds * 1e-9 - stamp)
        return callback
    for index in range(cameras):
        node.create_subscription(
            Image, f'c{index}/image', on_image(index),
            QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE), raw=mode == 'raw',
            callback_group=MutuallyExclusiveCallbackGroup() if mode == 'threads' else None)
    executor = (MultiThreadedExecutor(num_threads=cameras) if mode == 'threads'
                else SingleThreadedExecutor())
    executor.add_node(node)
    deadline = time.monotonic() + WARM_UP
    while time.monotonic() < deadline:
        executor.spin_once(timeout_sec=0.1)
    for found in lags:
        found.clear()
    start = resource.getrusage(resource.RUSAGE_SELF)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        executor.spin_once(timeout_sec=0.1)
    end = resource.getrusage(resource.RUSAGE_SELF)
    images = sum(map(len, lags))
    cpu = end.ru_utime + end.ru_stime - start.ru_utime - start.ru_stime
    print(f'{mode}: {images} images, {cpu / max(images, 1) * 1e3:.2f} ms CPU per image')
    print('stamp -> callback p50, ms (images), by camera: ' + '  '.join(
        f'c{index} {statistics.median(found) * 1e3:.1f} ({len(found)})'
        for index, found in enumerate(lags) if found))
    executor.shutdown()
    rclpy.try_shutdown()


def decode() -> None:
    """Print what one serialized 480x640 rgb8 image costs made a frame, each way."""
    image = frame_to_image(np.zeros((480, 640, 3), np.uint8), 'rgb8', Header(frame_id='camera'))
    serialized = serialize_message(image)
    for name, read in (('message', lambda: deserialize_message(serialized, Image)),
                       ('raw', lambda: parse_image(serialized))):
        seconds = min(timeit.repeat(lambda: image_to_frame(read()), number=300, repeat=5)) / 300
        print(f'{name}: {seconds * 1e6:.0f} us per image')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--mode', choices=('message', 'raw', 'threads', 'decode'),
                        default='message')
    parser.add_argument('--cameras', type=int, default=8)
    parser.add_argument('--seconds', type=float, default=10.0)
    parser.add_argument('--publish', action='store_true', help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.publish:
        publish(args.cameras)
        return
    if args.mode == 'decode':
        decode()
        return
    cameras = subprocess.Popen([sys.executable, __file__, '--publish', '--cameras',
                                str(args.cameras)], stderr=subprocess.DEVNULL)
    try:
        measure(args.cameras, args.mode, args.seconds)
    finally:
        cameras.terminate()
        cameras.wait(timeout=10)


if __name__ == '__main__':
    main()
