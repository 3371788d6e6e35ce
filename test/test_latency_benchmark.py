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

"""vjepa-benchmark --end-to-end and --cameras: images through running detector nodes (DDS)."""

import json

from conftest import once_per_suite
import pytest

pytestmark = pytest.mark.ros


@once_per_suite
def test_stamp_to_score_latency_through_the_node_process(ros, tmp_path, monkeypatch, capsys):
    from vjepa_nodes.tools.benchmark import main
    monkeypatch.setenv('ROS_DOMAIN_ID', str(ros.domain_id))  # the harness reserved it
    path = tmp_path / 'e2e.json'
    code = main(['--end-to-end', '--model-sizes', 'tiny', '--frames', '4', '--resolutions', '32',
                 '--devices', 'cpu', '--fast-paths', 'none', '--camera', '60x80',
                 '--camera-fps', '20', '--stride', '2', '--duration', '4',
                 '--startup-timeout', '60', '--json', str(path)])
    printed = capsys.readouterr().out
    assert code == 0, printed
    row = json.loads(path.read_text())['end_to_end']
    # 20 images/s for 4 s, a clip every 2 images: about 40 clips if the node keeps up.
    assert 60 <= row['images_sent'] <= 100
    assert row['clips_scored'] >= 10
    assert 0 < row['latency_ms_p50'] <= row['latency_ms_p90'] <= row['latency_ms_max'] < 2000
    assert row['fast_path'] == 'none' and row['camera'] == '60x80'
    assert 'latency_ms_p50' in printed


@once_per_suite
def test_cameras_into_one_batched_node_and_into_one_node_each(ros, tmp_path, monkeypatch,
                                                              capsys):
    from vjepa_nodes.tools.benchmark import main
    monkeypatch.setenv('ROS_DOMAIN_ID', str(ros.domain_id))
    path = tmp_path / 'cameras.json'
    code = main(['--cameras', '2', '--model-sizes', 'tiny', '--frames', '4', '--resolutions',
                 '32', '--devices', 'cpu', '--fast-paths', 'none', '--camera', '60x80',
                 '--camera-fps', '20', '--stride', '2', '--duration', '3',
                 '--startup-timeout', '60', '--json', str(path)])
    printed = capsys.readouterr().out
    assert code == 0, printed
    batched, separate = json.loads(path.read_text())['camera_scaling']
    assert (batched['layout'], separate['layout']) == ('batched', 'separate')
    for row in (batched, separate):
        assert row['cameras'] == 2 and row['clips_per_s_needed'] == 20.0
        assert row['backend'] == 'torch'  # named, not auto: the row says what ran
        assert 5 <= row['clips_per_s'] <= 25  # both cameras served, about 10 clips/s each
        assert set(row['latency_ms_p50']) == {'c0', 'c1'}
        assert 0 < row['latency_ms_p50_worst'] <= row['latency_ms_p99_worst'] < 2000
        assert 0 < row['heatmap_ms_p99_worst'] < 2000
    # One process (one torch, one model) against two.
    assert batched['peak_host_mb'] < 0.75 * separate['peak_host_mb']
    assert 'host MB' in printed and 'heat map p99 ms' in printed


@once_per_suite
def test_a_node_that_cannot_start_is_reported(ros, tmp_path, monkeypatch, capsys):
    from vjepa_nodes.tools.benchmark import main
    monkeypatch.setenv('ROS_DOMAIN_ID', str(ros.domain_id))
    code = main(['--end-to-end', '--model-sizes', 'tiny', '--frames', '4', '--resolutions', '32',
                 '--devices', 'cpu', '--fast-paths', 'cuda_graph', '--duration', '1',
                 '--startup-timeout', '60', '--json', str(tmp_path / 'e2e.json')])
    assert code == 1
    assert 'the detector node exited with 1' in capsys.readouterr().out


def test_header_stamps_are_read_from_serialized_messages_of_either_byte_order():
    import struct
    from builtin_interfaces.msg import Time
    from rclpy.serialization import serialize_message
    from sensor_msgs.msg import Image
    from std_msgs.msg import Header
    from vjepa_nodes.ros.latency_benchmark import cdr_header_stamp
    image = Image(header=Header(stamp=Time(sec=1795000000, nanosec=250000000)), data=b'x' * 9)
    assert cdr_header_stamp(serialize_message(image)) == pytest.approx(1795000000.25)
    big_endian = b'\x00\x00\x00\x00' + struct.pack('>iI', 7, 500000000) + b'\x00' * 8
    assert cdr_header_stamp(big_endian) == pytest.approx(7.5)
