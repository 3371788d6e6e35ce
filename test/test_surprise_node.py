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

"""obstacle_detector with surprise on, over DDS: surprise values, topics and settings."""

import re

from conftest import console_log, wait_for
import pytest
from test_obstacle_detector_node import Rig, SETTINGS

pytestmark = pytest.mark.ros


def predictor_file(tmp_path):
    """Save a predictor for the test encoder (tiny, random weights) as the trainer does."""
    import torch
    from vjepa_nodes.encoder.build import build_encoder
    from vjepa_nodes.encoder.onnx_export import weights_digest
    from vjepa_nodes.encoder.predictor import trainable_predictor_config, VJepaPredictor
    from vjepa_nodes.encoder.predictor_files import save_predictor, TrainedOn
    encoder = build_encoder('tiny', allow_random_weights=True)
    torch.manual_seed(0)
    predictor = VJepaPredictor(trainable_predictor_config(encoder.config, 'tiny'))
    trained_on = TrainedOn('2', 'tiny', encoder.weights_source, weights_digest(encoder),
                           SETTINGS['img_size'], SETTINGS['num_frames'], 1, 0.5)
    return str(save_predictor(tmp_path / 'predictor.pt', predictor, trained_on))


def test_surprise_is_published_and_acted_on(ros, tmp_path):
    from sensor_msgs.msg import Image
    from std_msgs.msg import Float32
    from vjepa_nodes.ros.score_messages import perception_from_msg
    rig = Rig(ros, surprise=True, surprise_horizon=1, score_source='surprise',
              predictor_checkpoint=predictor_file(tmp_path))
    scores, heatmaps = [], []
    rig.peer.create_subscription(Float32, 'surprise_score', scores.append, 10)
    rig.peer.create_subscription(Image, 'surprise_heatmap', heatmaps.append, 10)
    rig.start()
    rig.send(10)
    assert wait_for(lambda: len(rig.out['perception']) >= 3 and heatmaps)
    statuses = [message.status[0] for message in rig.out['perception']]
    values = [{item.key: float(item.value) for item in status.values
               if item.key not in ('obstacle', 'has_reference')} for status in statuses]
    # score_source surprise: the region scores to act on are surprise's, evidence at once.
    assert all(v[region] == v[f'surprise_{region}'] for v in values
               for region in ('left', 'center', 'right'))
    assert perception_from_msg(rig.out['perception'][0]).has_reference is True
    # The motion score still needs a previous clip: silent for the first one.
    assert len(rig.out['motion_score']) <= len(rig.out['perception']) - 1
    assert [v['surprise_score'] for v in values][:len(scores)] == pytest.approx(
        [s.data for s in scores])
    assert all(0.0 <= s.data <= 1.0 for s in scores)
    assert (heatmaps[-1].encoding, heatmaps[-1].width, heatmaps[-1].height) == (
        '32FC1', 96, 64)
    assert wait_for(lambda: any(
        values.get('score source') == 'surprise'
        and values.get('surprise', '').startswith('predictor ') for values in (
            {kv.key: kv.value for kv in array.status[0].values}
            for array in rig.out['/diagnostics'])), timeout=3.0)


def test_score_source_surprise_is_refused_while_surprise_is_off(ros):
    from rclpy.parameter import Parameter
    rig = Rig(ros)
    rig.start()
    refused = rig.node.set_parameters([Parameter('score_source', value='surprise')])[0]
    assert not refused.successful and 'score_source surprise needs surprise on' in refused.reason


def test_a_predictor_trained_on_other_clips_leaves_the_node_unconfigured(ros, tmp_path, capfd):
    from rclpy.lifecycle import TransitionCallbackReturn
    rig = Rig(ros, surprise=True, surprise_horizon=1,
              predictor_checkpoint=predictor_file(tmp_path),
              num_frames=6)  # the predictor was trained on 4-frame clips
    assert rig.node.trigger_configure() == TransitionCallbackReturn.FAILURE
    assert re.search('ERROR.*cannot configure: the predictor in .*trained with num_frames 4, '
                     'the detector has 6', console_log(capfd))
