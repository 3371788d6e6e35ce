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

"""vjepa-benchmark --end-to-end: image stamp -> perception -> cmd_vel through running nodes."""

import json
import math

from conftest import once_per_suite
import pytest

pytestmark = pytest.mark.ros


@once_per_suite
def test_stamp_to_cmd_vel_for_one_camera_and_two_in_each_layout(
        ros, tmp_path, monkeypatch, capsys):
    from vjepa_nodes.ros.latency_benchmark import STAGES
    from vjepa_nodes.tools.benchmark import main
    monkeypatch.setenv('ROS_DOMAIN_ID', str(ros.domain_id))  # the harness reserved it
    path = tmp_path / 'e2e.json'
    code = main(['--end-to-end', '--cameras', '1,2', '--model-sizes', 'tiny', '--frames', '4',
                 '--resolutions', '32', '--devices', 'cpu', '--fast-paths', 'none',
                 '--camera', '60x80', '--camera-fps', '20', '--stride', '2', '--duration', '3',
                 '--startup-timeout', '60', '--json', str(path)])
    printed = capsys.readouterr().out
    assert code == 0, printed
    report = json.loads(path.read_text())
    one, batched, separate = report['end_to_end']
    assert [(row['layout'], row['cameras']) for row in (one, batched, separate)] == [
        ('batched', 1), ('batched', 2), ('separate', 2)]
    assert report['machine']['torch'] and report['machine']['cpu_threads'] >= 1
    for row in (one, batched, separate):
        cameras = {f'c{index}' for index in range(row['cameras'])}
        assert row['backend'] == 'torch' and row['camera'] == '60x80'  # the row says what ran
        assert row['message_info']  # Jazzy and Kilted: DDS publication times
        assert row['clips_per_s_needed'] == 10.0 * row['cameras']
        assert 0.3 * row['clips_per_s_needed'] <= row['clips_per_s'] <= 1.3 * row[
            'clips_per_s_needed']
        assert set(row['perception_ms_p50']) == set(row['perception_ms_p99']) == cameras
        assert 0 < row['perception_ms_p50_worst'] <= row['perception_ms_p99_worst'] < 2000
        assert 0 < row['perception_ms_p99_all'] < 2000
        assert 0 < row['cmd_vel_ms_p50'] <= row['cmd_vel_ms_p99'] <= row['cmd_vel_ms_max'] < 3000
        assert row['cmd_vel_ms_p50'] <= row['cmd_vel_ms_p99_worst'] <= row['cmd_vel_ms_max']
        assert 0 < row['heatmap_ms_p99_worst'] < 2000
        assert set(row['stage_ms_p50']) == set(row['stage_ms_p99']) == set(STAGES)
        for stage in STAGES:
            assert 0 <= row['stage_ms_p50'][stage] <= row['stage_ms_p99'][stage] < 2000, stage
        assert set(row['camera_stage_ms_p50']) == set(row['camera_stage_ms_p99']) == cameras
        for name in cameras:
            for stage in STAGES:
                assert 0 <= row['camera_stage_ms_p50'][name][stage] <= row[
                    'camera_stage_ms_p99'][name][stage] < 2000, (name, stage)
        # The model's stage is the detector's largest but one: 60x80 images, a tiny model.
        assert row['stage_ms_p50']['encode'] > 0.2
        assert row['clips_timed'] >= 2 * row['cameras']
        assert 0 <= row['clips_sharing_a_frame'] <= 1
        assert math.isfinite(row['peak_host_mb']) and row['peak_gpu_mb'] is None
    # One process (one torch, one model) against two.
    assert batched['peak_host_mb'] < 0.75 * separate['peak_host_mb']
    assert one['clips_sharing_a_frame'] == 0  # no other camera
    assert one['camera_stage_ms_p99']['c0'] == one['stage_ms_p99']  # the same clips
    for column in ('cmd_vel p99', 'perception p99 (worst cam)', 'perception p99 (all)',
                   'heat map p99', 'sharing a frame', 'avoidance',
                   'deliver', 'host MB'):
        assert column in printed


def test_clips_sharing_a_frame_are_those_whose_newest_frame_another_camera_also_ended_on():
    from vjepa_nodes.ros.latency_benchmark import shared_frames
    # c0 and c1 both end a clip on 2.0; c2's 2.0 makes three; 1.0 and 3.0 are c0's alone.
    assert shared_frames({'c0': [1.0, 2.0, 3.0], 'c1': [2.0], 'c2': [2.0, 4.0]}) == 3 / 6
    assert shared_frames({'c0': [1.0, 2.0], 'c1': [1.5, 2.5]}) == 0.0
    assert shared_frames({'c0': []}) == 0.0


def test_the_command_that_reflects_a_clip_is_the_first_published_after_its_perception():
    from vjepa_nodes.ros.latency_benchmark import (
        Arrival, clip_latencies, DETECTOR_STAGES, SeenPerception, STAGES)
    timings = dict(zip(DETECTOR_STAGES, (0.001, 0.002, 0.003, 0.010, 0.004)))
    seen = [SeenPerception(100.0, Arrival(100.025, 100.026), timings),
            SeenPerception(0.0, Arrival(100.030, 100.031), timings),  # a failed clip's report
            SeenPerception(100.05, Arrival(100.070, 100.071), {}),  # no timings: not a node's
            SeenPerception(100.1, Arrival(100.125, 100.126), timings)]  # no command after it
    commands = [Arrival(100.040, 100.041), Arrival(100.020, 100.029),  # before the perception
                Arrival(100.060, 100.062)]
    [clip] = clip_latencies(seen, commands)
    assert clip['cmd_vel'] == pytest.approx(0.041)  # the command published at 100.040
    assert clip['avoidance'] == pytest.approx(0.015)
    assert clip['deliver'] == pytest.approx(0.001)
    assert clip['perception'] == pytest.approx(0.026)
    assert clip['publish'] == pytest.approx(0.025 - 0.020)
    # Back to back: the stages add up to stamp -> cmd_vel received.
    assert sum(clip[stage] for stage in STAGES) == pytest.approx(clip['cmd_vel'])


@once_per_suite
def test_a_node_that_cannot_start_is_reported(ros, tmp_path, monkeypatch, capsys):
    from vjepa_nodes.tools.benchmark import main
    monkeypatch.setenv('ROS_DOMAIN_ID', str(ros.domain_id))
    code = main(['--end-to-end', '--model-sizes', 'tiny', '--frames', '4', '--resolutions', '32',
                 '--devices', 'cpu', '--fast-paths', 'cuda_graph', '--duration', '1',
                 '--startup-timeout', '60', '--json', str(tmp_path / 'e2e.json')])
    assert code == 1
    assert 'a node exited with [1, None]' in capsys.readouterr().err


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
