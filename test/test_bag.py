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

"""vjepa-bag on rosbag2 files the test writes (MCAP and SQLite, raw and JPEG images)."""

import cv2
import pytest
from vjepa_nodes.synthetic import MovingObject, SyntheticScene
from vjepa_nodes.tools.bag import main

rosbags = pytest.importorskip('rosbags', reason='vjepa-bag needs the [bag] extra (rosbags)')
FPS, FRAMES, START = 10, 24, 1_700_000_000
DETECTOR = ['--param', 'model_size:=tiny', '--param', 'allow_random_weights:=true',
            '--param', 'img_size:=64', '--param', 'num_frames:=4', '--param', 'stride:=2',
            '--param', 'device:=cpu']


def write_bag(path, storage: str, compressed: bool = False,
              frames: int = FRAMES) -> list[tuple[int, int]]:
    """Write camera frames and a chatter topic; return the images' (sec, nanosec) stamps."""
    from rosbags.rosbag2 import StoragePlugin, Writer
    from rosbags.typesys import get_typestore, Stores
    types = get_typestore(Stores.ROS2_HUMBLE)
    t = types.types
    scene = SyntheticScene(96, 64, (MovingObject(20, 30, 20, vx=60),), seed=1)
    plugin = {'mcap': StoragePlugin.MCAP, 'sqlite3': StoragePlugin.SQLITE3}[storage]
    msgtype = 'sensor_msgs/msg/CompressedImage' if compressed else 'sensor_msgs/msg/Image'
    stamps = []
    with Writer(path, version=8, storage_plugin=plugin) as writer:
        camera = writer.add_connection('/front/image', msgtype, typestore=types)
        chatter = writer.add_connection('/chatter', 'std_msgs/msg/String', typestore=types)
        for i in range(frames):
            sec, nanosec = START + i // FPS, (i % FPS) * 100_000_000
            header = t['std_msgs/msg/Header'](
                stamp=t['builtin_interfaces/msg/Time'](sec=sec, nanosec=nanosec),
                frame_id='front')
            pixels = scene.frame(i / FPS)
            if compressed:
                jpeg = cv2.imencode('.jpg', pixels[..., ::-1])[1].reshape(-1)
                message = t[msgtype](header=header, format='jpeg', data=jpeg)
            else:
                message = t[msgtype](header=header, height=64, width=96, encoding='rgb8',
                                     is_bigendian=0, step=96 * 3, data=pixels.reshape(-1))
            log_time = sec * 10**9 + nanosec + 5_000_000  # arrives 5 ms after capture
            writer.write(camera, log_time, types.serialize_cdr(message, msgtype))
            writer.write(chatter, log_time, types.serialize_cdr(
                t['std_msgs/msg/String'](data=f'hello {i}'), 'std_msgs/msg/String'))
            stamps.append((sec, nanosec))
    return stamps


def read_bag(path) -> dict[str, list]:
    from rosbags.highlevel import AnyReader
    found = {}
    with AnyReader([path]) as reader:
        for connection, log_time, data in reader.messages():
            found.setdefault(connection.topic, []).append(
                (log_time, reader.deserialize(data, connection.msgtype)))
    return found


@pytest.mark.parametrize(('storage', 'compressed'), [('mcap', False), ('sqlite3', True)])
def test_outputs_are_written_beside_the_recording(tmp_path, storage, compressed):
    stamps = write_bag(tmp_path / 'drive', storage, compressed)
    assert main([str(tmp_path / 'drive'), *DETECTOR]) == 0
    output = tmp_path / 'drive_vjepa'
    assert any(output.glob('*.mcap' if storage == 'mcap' else '*.db3'))  # same storage
    found = read_bag(output)
    assert len(found['/front/image']) == len(found['/chatter']) == FRAMES  # all copied
    clips = found['/vjepa/perception']
    assert len(clips) == (FRAMES - 4) // 2 + 1  # first clip at 4 frames, then every 2
    image_times = {(m.header.stamp.sec, m.header.stamp.nanosec): log_time
                   for log_time, m in found['/front/image']}
    for log_time, perception in clips:  # stamped with, and logged at, the clip's newest image
        stamp = (perception.header.stamp.sec, perception.header.stamp.nanosec)
        assert stamp in stamps and image_times[stamp] == log_time
        assert perception.status[0].name == 'perception'
    assert len(found['/vjepa/motion_score']) == len(clips) - 1  # the first has no reference
    assert max(m.data for _, m in found['/vjepa/motion_score']) > 0.0
    heatmap = found['/vjepa/heatmap'][-1][1]
    assert (heatmap.encoding, heatmap.height, heatmap.width) == ('32FC1', 64, 96)
    # The avoidance node's commands, at its 20 Hz over the recording's log time.
    ticks = [log_time for log_time, _ in found['/vjepa/cmd_vel']]
    first, last = found['/front/image'][0][0], found['/front/image'][-1][0]
    assert ticks[0] == first and len(ticks) == (last - first) // 50_000_000 + 1
    assert {b - a for a, b in zip(ticks, ticks[1:])} == {50_000_000}
    states = [m.data for _, m in found['/vjepa/avoidance_state']]
    assert states[0] == 'STOP_STALE: no perception yet' and len(states) == len(ticks)
    assert any(not state.startswith('STOP_STALE') for state in states)  # fresh: it acts
    assert any(abs(m.linear.x) + abs(m.angular.z) > 0 for _, m in found['/vjepa/cmd_vel'])
    assert cv2.imread(str(output / 'timeline.png')) is not None


def test_a_bag_without_the_topic_is_refused_with_its_image_topics(tmp_path, capsys):
    write_bag(tmp_path / 'drive', 'mcap')
    assert main([str(tmp_path / 'drive'), '--topic', '/rear/image', *DETECTOR]) == 2
    assert ("has no image topic '/rear/image'; its image topics: /front/image "
            '(sensor_msgs/msg/Image)') in capsys.readouterr().err
    assert not (tmp_path / 'drive_vjepa').exists()


def test_bad_settings_are_refused_before_reading(tmp_path, capsys):
    write_bag(tmp_path / 'drive', 'mcap')
    assert main([str(tmp_path / 'drive'), '--param', 'stride:=0']) == 2
    assert 'stride=0 is not allowed' in capsys.readouterr().err
    for refused in ('autostart:=true', 'channel_order:=bgr', 'cameras:=[a]'):
        assert main([str(tmp_path / 'drive'), '--param', refused]) == 2
        assert 'not cameras' in capsys.readouterr().err
    (tmp_path / 'broken.yaml').write_text('a: [b')
    assert main([str(tmp_path / 'drive'), '--params-file', str(tmp_path / 'broken.yaml')]) == 2
    assert 'is not a parameter file' in capsys.readouterr().err
    assert not (tmp_path / 'drive_vjepa').exists()
