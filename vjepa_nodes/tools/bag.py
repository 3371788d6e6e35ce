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
vjepa-bag: run the obstacle detector (and the avoidance policy) over a rosbag2 recording.

Reads an MCAP or SQLite bag with the `rosbags` library (no ROS install needed), feeds one image
topic (sensor_msgs/Image or CompressedImage) to the detector by the images' capture stamps, and
writes a new bag holding every message of the input plus, under `--namespace`, what the nodes
would have published: perception, motion_score, region_scores, obstacle and heatmap (32FC1) at
the log time of the image that completed each clip, and avoidance_state and cmd_vel at the
avoidance node's rate over the log time (see Replay). Also writes a PNG timeline of scores and
decisions. Detector settings come from a ROS parameter file (`--params-file
config/jetson.yaml`: its obstacle_detector section) and `--param`.
"""

import argparse
from pathlib import Path
import sys
import time

import numpy as np

from vjepa_nodes.avoidance import AvoidancePolicy, Perception, PolicyConfig
from vjepa_nodes.freshness import stamp_problem
from vjepa_nodes.image_messages import (
    compressed_to_frame, image_to_frame, ImageError, rgb_frame, stamp_seconds, StampBook)
from vjepa_nodes.perception.config import DetectorConfig, REGIONS
from vjepa_nodes.perception.message_layout import (
    heatmap_fields, PERCEPTION_STATUS, perception_values, REGION_DIMENSION, surprise_values,
    USABLE)
from vjepa_nodes.perception.preprocessing import FrameError
from vjepa_nodes.ros.node_settings import (
    AvoidanceNodeSettings, DetectorNodeSettings, file_parameters, parse_text, UNDECLARED)
from vjepa_nodes.settings import setting_names, with_values
from vjepa_nodes.timeline import write_plot

IMAGE_TYPES = {'sensor_msgs/msg/Image': image_to_frame,
               'sensor_msgs/msg/CompressedImage': compressed_to_frame}
STORAGES = ('mcap', 'sqlite3')


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog='vjepa-bag', description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('bag', type=Path, help='rosbag2 folder (or its .mcap / .db3 file)')
    parser.add_argument('--topic', help='image topic (default: the only one in the bag)')
    parser.add_argument('--output', type=Path, help='new bag folder (default: <bag>_vjepa)')
    parser.add_argument('--storage', choices=STORAGES, help="default: the input bag's")
    parser.add_argument('--namespace', default='/vjepa', help='of the output topics')
    parser.add_argument('--params-file', type=Path,
                        help='ROS parameter file; its obstacle_detector section is used')
    parser.add_argument('--param', action='append', default=[], metavar='NAME:=VALUE',
                        help='an obstacle_detector parameter, after --params-file')
    return parser.parse_args(argv)


# The node's own settings that decide which images it takes; its QoS and the rest do not apply.
IMAGE_CHECKS = ('max_image_age', 'stamp_tolerance')


def settings(args: argparse.Namespace) -> tuple[DetectorConfig, DetectorNodeSettings]:
    """Return the detector's settings from --params-file, then --param (ValueError if bad)."""
    import yaml
    # One image topic is one camera here; frames are turned into RGB here, as the node does.
    known = (setting_names(DetectorConfig()) - {'cameras', *UNDECLARED['obstacle_detector']}
             | set(IMAGE_CHECKS))
    values = {}
    if args.params_file:
        try:
            given = file_parameters(args.params_file).get('obstacle_detector', {})
        except yaml.YAMLError as error:
            raise ValueError(f'{args.params_file} is not a parameter file: {error}') from None
        values.update({name: value for name, value in given.items() if name in known})
    for text in args.param:
        name, separator, value = text.partition(':=')
        if not separator or name not in known:
            raise ValueError(f'--param {text!r}: use NAME:=VALUE with an obstacle_detector '
                             'parameter of the detector or its image checks (not cameras)')
        values[name] = parse_text('obstacle_detector', name, value)
    node = {name: values.pop(name) for name in IMAGE_CHECKS if name in values}
    return with_values(DetectorConfig(), values), with_values(DetectorNodeSettings(), node)


class Outputs:
    """The output bag's extra connections, and messages built with its typestore."""

    def __init__(self, writer, typestore, namespace: str) -> None:
        self.types, self.writer = typestore.types, writer
        self.serialize = typestore.serialize_cdr
        self.connections = {name: writer.add_connection(
            f'{namespace.rstrip("/")}/{name}', msgtype, typestore=typestore)
            for name, msgtype in (
                ('perception', 'diagnostic_msgs/msg/DiagnosticArray'),
                ('motion_score', 'std_msgs/msg/Float32'),
                ('region_scores', 'std_msgs/msg/Float32MultiArray'),
                ('obstacle', 'std_msgs/msg/Bool'), ('heatmap', 'sensor_msgs/msg/Image'),
                ('avoidance_state', 'std_msgs/msg/String'),
                ('cmd_vel', 'geometry_msgs/msg/Twist'))}

    def write(self, name: str, message, log_time: int) -> None:
        connection = self.connections[name]
        self.writer.write(connection, log_time, self.serialize(message, connection.msgtype))

    def clip(self, header, seen: Perception, detection, log_time: int) -> None:
        """Write one clip's messages as the detector node publishes them (None: it failed)."""
        t = self.types
        if detection is not None and detection.motion_reference:
            self.write('motion_score', t['std_msgs/msg/Float32'](data=detection.motion_score),
                       log_time)
        if detection is not None and detection.has_reference:
            layout = t['std_msgs/msg/MultiArrayLayout'](
                dim=[t['std_msgs/msg/MultiArrayDimension'](**REGION_DIMENSION)], data_offset=0)
            self.write('region_scores', t['std_msgs/msg/Float32MultiArray'](
                layout=layout, data=np.array([seen.region_scores[r] for r in REGIONS],
                                             np.float32)), log_time)
        if detection is not None:
            self.write('obstacle', t['std_msgs/msg/Bool'](data=detection.obstacle), log_time)
            self.write('heatmap', t['sensor_msgs/msg/Image'](
                header=header, **heatmap_fields(detection.heatmap)), log_time)
        values = perception_values(
            seen.region_scores, detection.motion_score if detection else 0.0, seen.obstacle,
            seen.has_reference, detection and surprise_values(detection.surprise_score,
                                                              detection.surprise_regions))
        status = t['diagnostic_msgs/msg/DiagnosticStatus']
        self.write('perception', t['diagnostic_msgs/msg/DiagnosticArray'](
            header=header, status=[status(
                level=status.ERROR if seen.problem else status.OK, name=PERCEPTION_STATUS,
                message=seen.problem or USABLE, hardware_id=header.frame_id,
                values=[t['diagnostic_msgs/msg/KeyValue'](key=k, value=v) for k, v in values])]),
            log_time)

    def command(self, command, log_time: int) -> None:
        """Write one command as the avoidance node publishes it."""
        t = self.types
        self.write('avoidance_state', t['std_msgs/msg/String'](
            data=command.summary), log_time)
        vector = t['geometry_msgs/msg/Vector3']
        self.write('cmd_vel', t['geometry_msgs/msg/Twist'](
            linear=vector(x=command.linear, y=0.0, z=0.0),
            angular=vector(x=0.0, y=0.0, z=command.angular)), log_time)


class Replay:
    """
    Feed a recording's images to the detector and step the policy at the node's rate.

    Time is the bag's log time: an image arrives at its log time (and is dropped, as the node
    drops it, if captured longer than max_image_age before), and the policy steps every
    1 / rate s of log time on the latest perception, as the avoidance node's timer does.
    """

    def __init__(self, detector, outputs: Outputs, convert, node: DetectorNodeSettings,
                 rate: float) -> None:
        self.detector, self.outputs, self.convert, self.node = detector, outputs, convert, node
        self.period = int(1e9 / rate)
        self.now = 0.0  # log time, s: the policy's clocks
        self.policy = AvoidancePolicy(PolicyConfig(), lambda: self.now)
        self.perception: Perception | None = None
        self.latest = None  # the newest DetectionResult, for the timeline
        self.headers = StampBook(lambda: None)  # every clip's newest image is kept
        self.rows: list[dict] = []
        self.clips = 0
        self._first = self._next_tick = None

    def tick_until(self, log_time: int) -> None:
        """Step the policy at every tick up to `log_time` (ns) and write its commands."""
        if self._next_tick is None:
            self._first = self._next_tick = log_time
        while self._next_tick <= log_time:
            self.now = self._next_tick * 1e-9
            command = self.policy.step(self.perception, None)
            self.outputs.command(command, self._next_tick)
            latest = self.latest
            self.rows.append({
                't': (self._next_tick - self._first) * 1e-9,
                **(latest.region_scores if latest else dict.fromkeys(REGIONS, 0.0)),
                'score': latest.motion_score if latest else 0.0,
                'obstacle': bool(latest and latest.obstacle), 'linear': command.linear,
                'angular': command.angular, 'state': command.state.value})
            self._next_tick += self.period

    def image(self, message, log_time: int) -> None:
        """Take one image message that arrived at `log_time` (ns)."""
        stamp = stamp_seconds(message.header)
        problem = stamp_problem('images', stamp, log_time * 1e-9, self.node.max_image_age,
                                self.node.stamp_tolerance)
        try:
            if problem:
                raise ValueError(problem)
            frame = rgb_frame(self.convert, message)
            self.headers.add(stamp, message.header)
            self.detector.add_frame(frame, stamp)
        except (ImageError, FrameError, ValueError) as error:
            print(f'vjepa-bag: dropping the image stamped {stamp:.3f} s: {error}',
                  file=sys.stderr)
            return
        try:
            detection, problem = self.detector.detect(), ''
        except Exception as error:  # noqa: B902 - as the node: a failed clip, then go on
            detection, problem = None, f'inference failed: {type(error).__name__}: {error}'
        if detection is None and not problem:
            return
        self.clips += 1
        if detection is None:  # as the node says a clip failed: no scores, the problem
            self.perception = Perception(dict.fromkeys(REGIONS, 0.0), False, stamp,
                                         log_time * 1e-9, False, problem)
            self.outputs.clip(message.header, self.perception, None, log_time)
            return
        self.perception = Perception(detection.region_scores, detection.obstacle,
                                     detection.clip_end, log_time * 1e-9,
                                     detection.has_reference, detection.problem)
        self.outputs.clip(self.headers.get(detection.clip_end), self.perception, detection,
                          log_time)
        self.latest = detection


def copy_connection(writer, reader, connection):
    """Add `connection` to the output as recorded (definition, digest, QoS); None if it can't."""
    try:
        return _copy_connection(writer, reader, connection)
    except Exception as error:  # noqa: B902 - rosbags raises several kinds; one topic only
        print(f'vjepa-bag: not copying {connection.topic} ({connection.msgtype}): {error}',
              file=sys.stderr)
        return None


def _copy_connection(writer, reader, connection):
    if connection.msgdef.data:
        return writer.add_connection(
            connection.topic, connection.msgtype, msgdef=connection.msgdef.data,
            rihs01=connection.digest,
            serialization_format=connection.ext.serialization_format,
            offered_qos_profiles=connection.ext.offered_qos_profiles)
    # A bag without stored definitions (Humble, SQLite): the reader's types stand in.
    return writer.add_connection(connection.topic, connection.msgtype,
                                 typestore=reader.typestore,
                                 offered_qos_profiles=connection.ext.offered_qos_profiles)


def image_topic(reader, topic: str | None, source: Path):
    """Return the bag's connection of image `topic` (None: the only one); ValueError if none."""
    images = {c.topic: c for c in reader.connections if c.msgtype in IMAGE_TYPES}
    chosen = topic or (next(iter(images)) if len(images) == 1 else None)
    if chosen not in images:
        listed = ', '.join(f'{name} ({c.msgtype})' for name, c in sorted(images.items()))
        what = f'no image topic {chosen!r}' if chosen else 'more than one image topic'
        raise ValueError(f'{source} has {what}; its image topics: {listed or "none"} (choose '
                         'one with --topic)')
    return images[chosen]


def storage_of(bag: Path) -> str:
    """Return the storage plugin of a rosbag2 folder, by its files."""
    return 'mcap' if any(bag.glob('*.mcap')) else 'sqlite3'


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        from rosbags.highlevel import AnyReader
        from rosbags.rosbag2 import StoragePlugin, Writer
        from rosbags.typesys import get_typestore, Stores
    except ImportError:
        print('error: vjepa-bag needs the rosbags package: pip install rosbags', file=sys.stderr)
        return 2
    source = args.bag if args.bag.is_dir() else args.bag.parent
    output = args.output or source.with_name(source.name + '_vjepa')
    try:
        config, node = settings(args)
        if not source.is_dir():
            raise ValueError(f'{args.bag} is not a rosbag2 folder or a file in one')
        if output.exists():
            raise ValueError(f'{output} exists: give another --output')
    except (ValueError, OSError) as error:
        print(f'error: {error}', file=sys.stderr)
        return 2
    with AnyReader([source], default_typestore=get_typestore(Stores.ROS2_HUMBLE)) as reader:
        try:
            image_connection = image_topic(reader, args.topic, source)
        except ValueError as error:
            print(f'error: {error}', file=sys.stderr)
            return 2
        from vjepa_nodes.perception.detector import ObstacleDetector
        try:
            detector = ObstacleDetector(config=config)
        except (ValueError, RuntimeError) as error:
            print(f'error: {error}', file=sys.stderr)
            return 2
        storage = StoragePlugin.MCAP if (args.storage or storage_of(source)) == 'mcap' else (
            StoragePlugin.SQLITE3)
        with Writer(output, version=8, storage_plugin=storage) as writer:
            outputs = Outputs(writer, get_typestore(Stores.ROS2_HUMBLE), args.namespace)
            rows = run(reader, image_connection, detector, outputs, node)
    write_plot(rows, output / 'timeline.png',
               f'{source.name} {image_connection.topic}: V-JEPA motion scores -> obstacle flag '
               '-> cmd_vel')
    print(f'wrote {output} and {output / "timeline.png"}', file=sys.stderr)
    return 0


def run(reader, image_connection, detector, outputs: Outputs,
        node: DetectorNodeSettings) -> list[dict]:
    """Copy every message, replay the images through detector and policy; return rows."""
    writer = outputs.writer
    copies = {c.id: copy_connection(writer, reader, c) for c in reader.connections}
    replay = Replay(detector, outputs, IMAGE_TYPES[image_connection.msgtype], node,
                    AvoidanceNodeSettings().rate)
    seen, total, start = 0, image_connection.msgcount, time.monotonic()
    for connection, log_time, data in reader.messages():
        replay.tick_until(log_time)
        if copies[connection.id] is not None:
            writer.write(copies[connection.id], log_time, data)
        if connection.id != image_connection.id:
            continue
        replay.image(reader.deserialize(data, connection.msgtype), log_time)
        seen += 1
        if seen * 10 // total != (seen - 1) * 10 // total:
            print(f'vjepa-bag: {100 * seen // total}% of {total} images, {replay.clips} clips,'
                  f' {time.monotonic() - start:.0f} s', file=sys.stderr, flush=True)
    return replay.rows


if __name__ == '__main__':
    sys.exit(main())
