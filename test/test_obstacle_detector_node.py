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

"""obstacle_detector over DDS (tiny model): outputs, QoS, bad images, lifecycle, parameters."""

import time

from conftest import console_log, wait_for
import pytest
from vjepa_nodes.ros.processes import node_process
from vjepa_nodes.synthetic import MovingObject, SyntheticScene

pytestmark = pytest.mark.ros
SETTINGS = {'model_size': 'tiny', 'img_size': 64, 'num_frames': 4, 'stride': 2,
            'allow_random_weights': True, 'device': 'cpu', 'precision': 'fp32'}
OUTPUTS = ('motion_score', 'region_scores', 'obstacle', 'heatmap', 'debug_image',
           '/diagnostics', 'perception')


class Rig:
    """The detector node, a camera publisher and listeners for every output."""

    def __init__(self, ros, camera_reliability='reliable', node=True, **settings) -> None:
        from diagnostic_msgs.msg import DiagnosticArray
        from rclpy.node import Node
        from rclpy.parameter import Parameter
        from rclpy.qos import QoSProfile, ReliabilityPolicy
        from sensor_msgs.msg import Image
        from std_msgs.msg import Bool, Float32, Float32MultiArray
        from vjepa_nodes.ros.obstacle_detector_node import ObstacleDetectorNode
        settings = {'image_reliability': camera_reliability, **settings}
        overrides = [Parameter(k, value=v) for k, v in {**SETTINGS, **settings}.items()]
        if node:  # else the test starts node processes of its own
            self.node = ros.add(ObstacleDetectorNode(context=ros.context,
                                                     parameter_overrides=overrides))
        self.peer = ros.add(Node('peer', context=ros.context))
        reliability = {'best_effort': ReliabilityPolicy.BEST_EFFORT,
                       'reliable': ReliabilityPolicy.RELIABLE}[camera_reliability]
        self.camera = self.peer.create_publisher(Image, 'image',
                                                 QoSProfile(depth=10, reliability=reliability))
        self.out = {name: [] for name in OUTPUTS}
        qos = QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE)
        for name, kind in zip(OUTPUTS, (Float32, Float32MultiArray, Bool, Image, Image,
                                        DiagnosticArray, DiagnosticArray)):
            self.peer.create_subscription(kind, name, self.out[name].append, qos)
        self.scene = SyntheticScene(96, 64, (MovingObject(20, 30, 20, vx=60),), seed=1)
        self.headers = []

    def start_configured(self) -> None:
        from rclpy.lifecycle import TransitionCallbackReturn
        assert self.node.trigger_configure() == TransitionCallbackReturn.SUCCESS
        assert self.node.trigger_activate() == TransitionCallbackReturn.SUCCESS

    def start(self) -> None:
        self.start_configured()
        assert wait_for(lambda: self.camera.get_subscription_count() == 1)

    def send(self, count: int, bad=None, age: float = 0.0, frozen: bool = False) -> None:
        """
        Publish `count` frames at 20 Hz (and `bad` messages between them).

        Each is stamped `age` seconds before now; `frozen` repeats the first picture.
        """
        from rclpy.duration import Duration
        from std_msgs.msg import Header
        from vjepa_nodes.ros.image_conversions import frame_to_image
        for i in range(count):
            stamp = self.peer.get_clock().now() - Duration(nanoseconds=int(age * 1e9))
            header = Header(frame_id='front_camera', stamp=stamp.to_msg())
            if bad is not None:
                bad.header = header
                self.camera.publish(bad)
            picture = self.scene.frame(0.0 if frozen else len(self.headers) / 20)
            self.camera.publish(frame_to_image(picture, 'rgb8', header))
            self.headers.append(header)
            time.sleep(0.05)


@pytest.mark.parametrize('camera_reliability', ['best_effort', 'reliable'])
def test_frames_in_scores_flag_heatmap_and_diagnostics_out(ros, camera_reliability):
    from diagnostic_msgs.msg import DiagnosticStatus
    rig = Rig(ros, camera_reliability)
    rig.start()
    rig.send(16)
    assert wait_for(lambda: len(rig.out['region_scores']) >= 2 and rig.out['/diagnostics'])
    regions = rig.out['region_scores'][-1]
    assert regions.layout.dim[0].label == 'left,center,right' and len(regions.data) == 3
    assert all(0.0 <= s.data < 1.0 for s in rig.out['motion_score'])
    assert len(rig.out['obstacle']) >= len(rig.out['motion_score'])
    heatmap = rig.out['heatmap'][-1]
    assert (heatmap.encoding, heatmap.width, heatmap.height) == ('32FC1', 96, 64)
    assert heatmap.header.frame_id == 'front_camera'
    sent = {(h.stamp.sec, h.stamp.nanosec) for h in rig.headers}
    assert (heatmap.header.stamp.sec, heatmap.header.stamp.nanosec) in sent
    assert wait_for(lambda: any(
        'inference rate (Hz)' in {kv.key for kv in array.status[0].values}
        and array.status[0].level == DiagnosticStatus.WARN  # random weights
        for array in rig.out['/diagnostics']), timeout=3.0)
    values = {kv.key: kv.value for kv in rig.out['/diagnostics'][-1].status[0].values}
    assert values['device'] == 'cpu' and values['precision'] == 'fp32'
    assert values['weights source'].startswith('RANDOM')
    assert int(values['heat maps replaced before publishing']) >= 0
    from vjepa_nodes.perception.message_layout import timings_from_values
    timings = timings_from_values({kv.key: kv.value
                                   for kv in rig.out['perception'][-1].status[0].values})
    assert set(timings) == {'receive', 'wait', 'preprocess', 'encode', 'score'}
    assert all(0.0 <= seconds < 5.0 for seconds in timings.values()) and timings['encode'] > 0
    from vjepa_nodes.ros.score_messages import perception_from_msg
    reports = [perception_from_msg(m) for m in rig.out['perception']]
    assert reports[0].has_reference is False and reports[-1].has_reference is True
    assert all(r.problem == '' for r in reports)
    stamps = {h.stamp.sec + h.stamp.nanosec * 1e-9 for h in rig.headers}
    assert all(r.stamp in stamps for r in reports)  # each stamped with one of its images
    assert reports[-1].stamp > reports[0].stamp


def test_debug_overlay_only_for_subscribers(ros):
    rig = Rig(ros)
    rig.start()
    debug_image = rig.node.cameras[''].outputs['debug_image']
    assert wait_for(lambda: debug_image.get_subscription_count() == 1)
    rig.send(8)
    assert wait_for(lambda: rig.out['debug_image'])
    overlay = rig.out['debug_image'][-1]
    assert (overlay.encoding, overlay.width, overlay.height) == ('rgb8', 96, 64)


def test_malformed_images_are_rejected_and_the_node_keeps_serving(ros):
    from rclpy.serialization import serialize_message
    from sensor_msgs.msg import Image
    rig = Rig(ros, image_depth=10)  # keep every message, so each bad one is seen
    rig.start()
    camera = rig.node.cameras['']
    bad = [Image(height=64, width=96, encoding='yuv422', step=192, data=bytes(192 * 64)),
           Image(height=64, width=96, encoding='rgb8', step=288, data=bytes(100)),
           Image(height=0, width=96, encoding='rgb8', step=288, data=b''),
           Image(height=1, width=30000, encoding='mono8', step=30000, data=bytes(30000))]
    for message in bad:
        rig.send(3, bad=message)
    assert wait_for(lambda: camera.rejected == 12)
    serialized = serialize_message(bad[1])
    for cut in (2, 9, 20):  # bytes that end in the encapsulation, the stamp, the frame_id
        rig.camera.publish(serialized[:cut])
    assert wait_for(lambda: camera.rejected == 15)
    scored = len(rig.out['region_scores'])
    rig.send(8)
    assert wait_for(lambda: len(rig.out['region_scores']) >= scored + 2)


def test_big_endian_images_are_read_by_the_middleware(ros):
    from cdr_bytes import big_endian_image
    from std_msgs.msg import Header
    from vjepa_nodes.ros.image_conversions import frame_to_image
    rig = Rig(ros)
    rig.start()
    # Twelve images give four scores. Eight gave exactly the two asserted (the first clip has no
    # reference), so one clip skipped while the worker was busy (a 0.14 s collection) failed CI.
    for index in range(12):  # not read in place: deserialized by the middleware instead
        header = Header(stamp=rig.peer.get_clock().now().to_msg(), frame_id='front_camera')
        image = frame_to_image(rig.scene.frame(index / 20), 'rgb8', header)
        rig.camera.publish(big_endian_image(image))
        time.sleep(0.05)
    assert wait_for(lambda: len(rig.out['region_scores']) >= 2)
    assert rig.node.cameras[''].rejected == 0
    assert rig.out['heatmap'][-1].header.frame_id == 'front_camera'


def test_lifecycle_loads_on_configure_and_releases_on_cleanup(ros):
    import gc
    from rclpy.lifecycle import TransitionCallbackReturn as Result
    gc.unfreeze()  # nodes of earlier tests in this process may have frozen the heap
    rig = Rig(ros)
    assert rig.camera.get_subscription_count() == 0  # unconfigured: nothing subscribed
    assert rig.node.trigger_configure() == Result.SUCCESS
    assert rig.node._detector is not None and rig.camera.get_subscription_count() == 0
    assert rig.node.trigger_activate() == Result.SUCCESS
    assert wait_for(lambda: rig.camera.get_subscription_count() == 1)
    assert gc.get_freeze_count() == 0
    rig.send(8)
    # After its first results the node leaves what it holds out of full collections.
    assert wait_for(lambda: rig.out['motion_score'] and gc.get_freeze_count() > 0)
    assert rig.node.trigger_deactivate() == Result.SUCCESS
    assert wait_for(lambda: rig.camera.get_subscription_count() == 0)
    assert rig.node._detector is not None  # the model stays loaded while inactive
    assert rig.node.trigger_cleanup() == Result.SUCCESS
    assert rig.node._detector is None and gc.get_freeze_count() == 0  # the model can go
    assert rig.node.trigger_configure() == Result.SUCCESS  # and comes back


def test_bad_configuration_fails_configure_with_the_reason(ros):
    from rclpy.lifecycle import TransitionCallbackReturn as Result
    rig = Rig(ros, allow_random_weights=False)  # and no checkpoint
    assert rig.node.trigger_configure() == Result.FAILURE


def test_a_vjepa21_encoder_serves_the_same_topics(ros):
    rig = Rig(ros, model_version='2.1')  # its test-only tiny size
    rig.start()
    rig.send(16)
    assert wait_for(lambda: len(rig.out['region_scores']) >= 2)
    assert wait_for(lambda: any(
        values.get('model') == 'V-JEPA 2.1 tiny'
        and values.get('backend choice', '').startswith('auto on ') for values in (
            {kv.key: kv.value for kv in array.status[0].values}
            for array in rig.out['/diagnostics'])), timeout=3.0)


def test_the_mlx_backend_serves_the_same_topics(ros, tmp_path):
    rig = Rig(ros, backend='mlx', cache_dir=str(tmp_path))
    rig.start()  # the worker thread encodes with the MLX weights configure converted
    rig.send(10)
    assert wait_for(lambda: len(rig.out['region_scores']) >= 2)
    assert list(tmp_path.glob('*/encoder.safetensors'))
    assert rig.out['heatmap'] and all(0.0 <= s.data < 1.0 for s in rig.out['motion_score'])
    assert wait_for(lambda: any(
        values.get('device') == 'mlx:cpu' and values.get('precision') == 'fp32'
        and values.get('backend', '').startswith('mlx on cpu in fp32')
        and values.get('backend choice') == 'set explicitly' for values in (
            {kv.key: kv.value for kv in array.status[0].values}
            for array in rig.out['/diagnostics'])), timeout=3.0)


def test_the_onnxruntime_backend_serves_the_same_topics(ros, tmp_path):
    rig = Rig(ros, backend='onnxruntime', cache_dir=str(tmp_path))
    rig.start()
    rig.send(8)  # the first clip exports the encoder into tmp_path (seconds for this size)
    assert wait_for(lambda: rig.out['perception'], timeout=60.0)
    rig.send(8)
    assert wait_for(lambda: len(rig.out['region_scores']) >= 2)
    assert list(tmp_path.glob('*/encoder.onnx'))
    assert rig.out['heatmap'] and all(0.0 <= s.data < 1.0 for s in rig.out['motion_score'])
    assert wait_for(lambda: any(
        kv.key == 'backend' and kv.value.startswith('onnxruntime on CPUExecutionProvider')
        for array in rig.out['/diagnostics'] for kv in array.status[0].values), timeout=3.0)


@pytest.mark.parametrize(('damage', 'reason'), [
    ('other_frames', 'frames is 8 in the file but the detector needs 4'),
    ('missing', 'engine_path .*tiny.onnx does not exist'),
    ('corrupt', 'onnxruntime cannot load .*tiny.onnx'),
])
def test_a_refused_engine_file_leaves_the_node_unconfigured(
        ros, tmp_path, capfd, damage, reason):
    import re
    from rclpy.lifecycle import TransitionCallbackReturn as Result
    from vjepa_nodes.tools import export
    path = tmp_path / 'tiny.onnx'
    frames = '8' if damage == 'other_frames' else '4'
    assert export.main(['--model-size', 'tiny', '--allow-random-weights', '--frames', frames,
                        '--resolution', '48x64', '--output', str(path)]) == 0
    if damage == 'missing':
        path.unlink()
    elif damage == 'corrupt':
        path.write_bytes(b'\0' * 64)
    rig = Rig(ros, backend='onnxruntime', engine_path=str(path))
    assert rig.node.trigger_configure() == Result.FAILURE
    assert rig.node._detector is None and not rig.node.cameras  # nothing published
    assert re.search(f'ERROR.*cannot configure: .*{reason}', console_log(capfd))
    rig.send(4)
    assert rig.camera.get_subscription_count() == 0


def test_parameter_updates_are_validated(ros):
    from rclpy.parameter import Parameter
    rig = Rig(ros)
    rig.start()
    bad = rig.node.set_parameters([Parameter('off_threshold', value=0.5)])[0]
    assert not bad.successful and 'off_threshold <= on_threshold' in bad.reason
    assert rig.node.get_parameter('off_threshold').value == 0.05
    assert not rig.node.set_parameters([Parameter('stride', value=0)])[0].successful
    read_only = rig.node.set_parameters([Parameter('model_size', value='large')])[0]
    assert not read_only.successful
    assert rig.node.set_parameters([Parameter('on_threshold', value=0.3),
                                    Parameter('stride', value=3)])[0].successful
    assert rig.node._detector.camera().decision.config.on_threshold == 0.3
    assert rig.node._detector.camera().buffer.stride == 3


def _diagnostic_errors(rig) -> list[str]:
    from diagnostic_msgs.msg import DiagnosticStatus
    return [status.message for array in rig.out['/diagnostics'] for status in array.status
            if status.level == DiagnosticStatus.ERROR]


def test_a_camera_that_cannot_connect_is_an_error_in_diagnostics_within_1_s(ros):
    from rclpy.lifecycle import TransitionCallbackReturn
    rig = Rig(ros, camera_reliability='best_effort', image_reliability='reliable')
    assert rig.node.trigger_configure() == TransitionCallbackReturn.SUCCESS
    assert rig.node.trigger_activate() == TransitionCallbackReturn.SUCCESS
    reason = ('cannot hear publisher /peer on /image: incompatible QoS, it offers reliability '
              'best_effort; make it publish with reliable')
    assert wait_for(lambda: any(reason in error for error in _diagnostic_errors(rig)), 1.0)
    assert rig.node.cameras[''].incompatible_qos_events > 0


def test_auto_reliability_takes_a_best_effort_camera_too(ros):
    rig = Rig(ros, camera_reliability='best_effort', image_reliability='auto')
    rig.start()  # the camera matches once the node has fallen back to best effort
    rig.send(16)
    assert wait_for(lambda: rig.out['region_scores'])
    assert rig.node.cameras[''].incompatible_qos_events >= 1
    assert not any('cannot hear' in error for error in _diagnostic_errors(rig))


def test_shutdown_from_active_stops_cleanly(ros):
    from rclpy.lifecycle import TransitionCallbackReturn as Result
    rig = Rig(ros)
    rig.start()
    rig.send(4)
    assert rig.node.trigger_shutdown() == Result.SUCCESS
    assert rig.node._detector is None and rig.node._worker is None
    assert wait_for(lambda: rig.camera.get_subscription_count() == 0)
    rig.send(2)  # nobody listens any more; nothing may fail


def test_the_node_process_logs_the_core_messages_to_ros(ros):
    # Device choice, weights and compilation progress come from the core's Python logger; the
    # executable forwards them to /rosout, where launch files and rqt_console show them.
    import os
    from rcl_interfaces.msg import Log
    from rclpy.node import Node
    from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
    listener = ros.add(Node('rosout_listener', context=ros.context))
    messages = []
    listener.create_subscription(
        Log, '/rosout', lambda msg: messages.append((msg.name, msg.msg)),
        QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE,
                   durability=DurabilityPolicy.TRANSIENT_LOCAL))
    process = node_process('obstacle_detector_node', {**SETTINGS, 'device': 'cpu'},
                           dict(os.environ, ROS_DOMAIN_ID=str(ros.domain_id)))
    try:
        assert wait_for(lambda: any(
            'compute on cpu in fp32' in text and name == 'obstacle_detector'
            for name, text in messages), timeout=30.0), messages
    finally:
        process.terminate()
        process.wait(timeout=10)


def _diagnostic(rig, text, level):
    return any(text in array.status[0].message and array.status[0].level == level
               for array in rig.out['/diagnostics'])


@pytest.mark.parametrize(('age', 'reason'), [(100.0, 'images were captured 100.'),
                                             (-10.0, 's in the future')])
def test_images_stamped_far_from_the_clock_are_dropped_and_reported(ros, age, reason):
    from diagnostic_msgs.msg import DiagnosticStatus
    rig = Rig(ros)
    rig.start()
    rig.send(12, age=age)
    assert wait_for(lambda: _diagnostic(rig, reason, DiagnosticStatus.ERROR), timeout=3.0)
    assert rig.node.cameras[''].stale.total == 12 and not rig.out['perception']
    values = {kv.key: kv.value for kv in rig.out['/diagnostics'][-1].status[0].values}
    assert values['stale images dropped'] == '12'
    rig.send(8)  # fresh images are analysed again
    assert wait_for(lambda: rig.out['region_scores'])


def test_a_frozen_camera_is_reported_and_marks_results_unusable(ros):
    from diagnostic_msgs.msg import DiagnosticStatus
    from vjepa_nodes.ros.score_messages import perception_from_msg
    rig = Rig(ros, frozen_after=0.5)
    rig.start()
    rig.send(24, frozen=True)  # the same picture with fresh stamps for 1.2 s
    assert wait_for(lambda: rig.out['perception'] and perception_from_msg(
        rig.out['perception'][-1]).problem.startswith('camera frozen: the same image for'))
    assert wait_for(lambda: _diagnostic(rig, 'camera frozen', DiagnosticStatus.ERROR), 3.0)
    rig.send(8)  # a live picture again
    assert wait_for(lambda: perception_from_msg(rig.out['perception'][-1]).problem == '')


def test_the_worker_survives_a_failing_clip_and_reports_it_at_once(ros):
    from diagnostic_msgs.msg import DiagnosticStatus
    from vjepa_nodes.ros.score_messages import perception_from_msg
    rig = Rig(ros)
    rig.start()
    score, calls = rig.node._detector.camera().scorer.score, []

    def fails_once(tokens, grid):  # a fault inside one clip
        calls.append(1)
        if len(calls) == 2:
            raise ValueError('simulated fault in this clip')
        return score(tokens, grid)
    rig.node._detector.camera().scorer.score = fails_once
    rig.send(16)
    assert wait_for(lambda: len(rig.out['region_scores']) >= 2)  # serving after the failure
    failures = [perception_from_msg(m) for m in rig.out['perception']
                if perception_from_msg(m).problem]
    assert failures[0].problem == 'inference failed: ValueError: simulated fault in this clip'
    assert _diagnostic(rig, 'inference failed: ValueError', DiagnosticStatus.ERROR)
    assert rig.node._worker.is_alive() and len(calls) > 2


def _analysing(rig, node_name: str) -> bool:
    """Say whether the node's /diagnostics report clips analysed in the last seconds."""
    for array in rig.out['/diagnostics']:
        status = array.status[0]
        values = {kv.key: kv.value for kv in status.values}
        if status.name.startswith(f'/{node_name}:') and float(
                values.get('inference rate (Hz)', 0)) > 0:
            return True
    return False


def test_signals_end_the_busy_node_cleanly(ros):
    # stride 1: inference never pauses, so the signal lands while clips are in flight. One
    # node process per way of stopping it, all at once (each process costs seconds to start).
    import os
    import signal
    import subprocess
    ways = (['SIGINT'], ['SIGTERM'], ['SIGINT', 'SIGINT'])
    rig = Rig(ros, node=False)
    env = dict(os.environ, ROS_DOMAIN_ID=str(ros.domain_id))
    processes = [node_process('obstacle_detector_node', {**SETTINGS, 'stride': 1}, env,
                              ('-r', f'__node:=detector_{i}'), stderr=subprocess.PIPE, text=True)
                 for i in range(len(ways))]
    try:
        assert wait_for(lambda: rig.camera.get_subscription_count() == len(ways), timeout=60.0)
        deadline = time.monotonic() + 30.0  # until every one analyses clips
        while not all(_analysing(rig, f'detector_{i}') for i in range(len(ways))):
            assert time.monotonic() < deadline
            rig.send(4)
        for step in range(2):
            for process, signals in zip(processes, ways):
                if step < len(signals):
                    process.send_signal(getattr(signal, signals[step]))
            time.sleep(0.05)
        codes = [process.wait(timeout=15) for process in processes]
    finally:
        for process in processes:
            process.kill()
    errors = [process.stderr.read() for process in processes]
    assert codes == [0] * len(ways), errors
    assert not any('Traceback' in text or 'RCLError' in text for text in errors), errors
