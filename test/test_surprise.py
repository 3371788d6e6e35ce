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

"""Surprise: a predictor trained here foresees a still scene, not a new object, and where."""

import random

from hypothesis import given, settings, strategies as st
from hypothesis.extra.numpy import arrays
import numpy as np
import pytest
import torch
from vjepa_nodes.encoder.build import build_encoder
from vjepa_nodes.encoder.predictor import trainable_predictor_config, VJepaPredictor
from vjepa_nodes.perception.config import DetectorConfig
from vjepa_nodes.perception.predictor_training import ClipSet, encode_clips, PredictorTraining
from vjepa_nodes.perception.preprocessing import Preprocessor
from vjepa_nodes.perception.surprise import prediction_error, score_surprise, split_indices
from vjepa_nodes.synthetic import SyntheticScene

FRAMES, HORIZON = 8, 2
pytestmark = pytest.mark.filterwarnings('ignore::UserWarning')


def clip_pixels(preprocess, frames) -> torch.Tensor:
    return preprocess(frames)[0]


def still_frames(seed: int, start: float = 0.0) -> list[np.ndarray]:
    scene = SyntheticScene(128, 96, (), seed=seed)
    return [scene.frame(start + i / 10) for i in range(FRAMES)]


def with_new_object(frames: list[np.ndarray]) -> list[np.ndarray]:
    """Return the frames with a bright checkered block in the right third, last tubelet."""
    changed = [frame.copy() for frame in frames]
    block = np.indices((32, 32)).sum(0) // 8 % 2 * 255
    for frame in changed[-2:]:
        frame[32:64, 88:120] = block[..., None]
    return changed


@pytest.fixture(scope='module')
def trained():
    """Return a small random encoder and a predictor trained for seconds on still scenes."""
    encoder = build_encoder('small', allow_random_weights=True)
    preprocess = Preprocessor(96, 'full', torch.device('cpu'), torch.float32)
    clips = ClipSet()
    for first in range(0, 48, 8):  # 48 scenes: too many to learn by heart
        pixels = torch.cat([clip_pixels(preprocess, still_frames(seed))
                            for seed in range(first, first + 8)])
        clips.add(*encode_clips(encoder, pixels, HORIZON))
    torch.manual_seed(0)
    predictor = VJepaPredictor(trainable_predictor_config(encoder.config, 'small'))
    training = PredictorTraining(predictor, HORIZON, torch.device('cpu'), lr=2e-3)
    before = training.evaluate(clips)
    rng = random.Random(0)
    for _ in range(200):
        training.step(*clips.sample(8, rng))
    return encoder, preprocess, training.predictor.eval(), before, training.evaluate(clips)


def error_map(trained, frames) -> torch.Tensor:
    encoder, preprocess, predictor, *_ = trained
    grid, context, targets = encode_clips(encoder, clip_pixels(preprocess, frames), HORIZON)
    with torch.no_grad():
        predicted = predictor(context, *split_indices(grid, HORIZON, context.device), grid)
    return prediction_error(predicted, targets)[0].unflatten(0, (HORIZON, *grid[1:])).mean(0)


def test_training_lowers_the_error_on_still_scenes(trained):
    *_, before, after = trained
    assert after < 0.6 * before


def test_a_new_object_raises_surprise_in_its_region_only(trained):
    still = error_map(trained, still_frames(seed=100))  # a scene not trained on
    changed = error_map(trained, with_new_object(still_frames(seed=100)))
    *_, before, _ = trained
    assert still.mean() < 0.5 * before  # a still scene it never saw is no surprise
    raised = changed - still
    left, _, right = [part.mean().item() for part in torch.tensor_split(raised, 3, dim=1)]
    assert right > 0.05 and right > 5 * abs(left), (left, right)
    assert raised.max() > 0.5 * still.mean()  # where the block is


def test_surprise_settings_are_refused_with_the_reason():
    with pytest.raises(ValueError, match='score_source surprise needs surprise on'):
        DetectorConfig(score_source='surprise')
    with pytest.raises(ValueError, match='surprise runs on the torch backend only'):
        DetectorConfig(surprise=True, backend='onnxruntime')
    with pytest.raises(ValueError, match='surprise_horizon 8 leaves no context in a clip of 16'):
        DetectorConfig(surprise=True, surprise_horizon=8)
    with pytest.raises(ValueError, match='score_source'):
        DetectorConfig(surprise=True, score_source='both')
    for bad in (float('nan'), float('inf'), -0.1):
        with pytest.raises(ValueError, match='surprise_scale'):
            DetectorConfig(scoring=DetectorConfig().scoring.__class__(surprise_scale=bad))


TRAIN_ARGS = ['--param', 'model_size:=small', '--param', 'allow_random_weights:=true',
              '--param', 'img_size:=64', '--param', f'num_frames:={FRAMES}',
              '--param', 'device:=cpu', '--log-every', '10', '--save-every', '20']


def test_train_predictor_on_a_bag_then_the_detector_scores_surprise_with_it(tmp_path, capsys):
    pytest.importorskip('rosbags', reason='reading bags needs the [bag] extra (rosbags)')
    from test_bag import write_bag
    from vjepa_nodes.perception.detector import ObstacleDetector
    from vjepa_nodes.tools.train_predictor import main
    write_bag(tmp_path / 'run', 'mcap', frames=80)
    output = tmp_path / 'predictor' / 'corridor.pt'
    assert main([str(tmp_path / 'run'), '--output', str(output), '--steps', '30',
                 *TRAIN_ARGS]) == 0
    log = capsys.readouterr().out
    assert 'encoded 15 training and 3 validation clips' in log
    assert 'step 30/30  loss' in log and 'clips/s' in log
    before, after = (float(log.split(f'{label}: ')[1].split()[0]) for label in (
        'validation loss before training', 'validation loss after 30 steps'))
    assert after < 0.8 * before

    # Resumable: more steps continue from the state saved at the end.
    assert main([str(tmp_path / 'run'), '--output', str(output), '--steps', '40', '--resume',
                 *TRAIN_ARGS]) == 0
    log = capsys.readouterr().out
    assert 'resuming at step 30' in log and 'step 40/40' in log and 'step 10/' not in log

    settings = {'model_size': 'small', 'allow_random_weights': True, 'img_size': 64,
                'num_frames': FRAMES, 'stride': 4, 'device': 'cpu', 'surprise': True,
                'score_source': 'max', 'predictor_checkpoint': str(output)}
    detector = ObstacleDetector(**settings)
    assert detector.surprise.baseline == pytest.approx(
        float(log.split('validation loss after 40 steps: ')[1].split()[0]), abs=1e-4)
    scene = SyntheticScene(96, 64, (), seed=3)
    results = []
    for index in range(16):
        detector.add_frame(scene.frame(index / 10), stamp=index / 10)
        results += [result for result in [detector.detect()] if result]
    assert len(results) == 3 and all(0.0 <= r.surprise_score <= 1.0 for r in results)
    assert results[0].has_reference is False  # max needs the motion score's reference too
    assert results[0].surprise_heatmap.shape == (64, 96)

    with pytest.raises(ValueError, match='trained with num_frames 8, the detector has 12'):
        ObstacleDetector(**{**settings, 'num_frames': 12})


def test_a_released_predictor_needs_a_baseline_at_start_and_keeps_it(tmp_path):
    from dataclasses import replace
    from vjepa_nodes.perception.config import ScoringConfig
    from vjepa_nodes.perception.detector import ObstacleDetector
    config = trainable_predictor_config(build_encoder('small', allow_random_weights=True).config,
                                        'small')
    torch.save({'predictor': VJepaPredictor(config).state_dict()}, tmp_path / 'released.pt')
    settings = DetectorConfig(model_size='small', allow_random_weights=True, img_size=64,
                              num_frames=FRAMES, device='cpu', surprise=True,
                              predictor_checkpoint=str(tmp_path / 'released.pt'))
    with pytest.raises(ValueError, match='surprise_baseline is needed with the .*released.pt'):
        ObstacleDetector(config=settings)
    calibrated = replace(settings, scoring=ScoringConfig(surprise_baseline=0.4))
    detector = ObstacleDetector(config=calibrated)
    with pytest.raises(ValueError, match='surprise_baseline is needed'):
        detector.update_config(settings)
    assert detector.config == calibrated


@settings(max_examples=60, deadline=None)
@given(error=arrays(np.float32, st.tuples(st.integers(1, 6), st.integers(3, 9)),
                    elements=st.floats(0.0, 4.0, width=32)),
       baseline=st.floats(0.0, 2.0), scale=st.floats(1e-3, 2.0),
       raise_by=st.floats(0.0, 2.0, width=32), region=st.integers(0, 2))
def test_surprise_scores_are_bounded_and_grow_with_the_error(
        error, baseline, scale, raise_by, region):
    scored = score_surprise(torch.from_numpy(error), baseline, scale)
    # 1 - exp(-x) rounds to 1.0 in fp32 for x > 17: a clearly surprising patch.
    assert scored.finite and 0.0 <= scored.surprise_score <= 1.0
    assert all(0.0 <= value <= 1.0 for value in scored.region_scores.values())
    assert scored.surprise_score == pytest.approx(scored.activation.mean().item(), abs=1e-6)
    raised = torch.from_numpy(error.copy())
    torch.tensor_split(raised, 3, dim=1)[region].add_(raise_by)  # a view: raises that third
    higher = score_surprise(raised, baseline, scale)
    assert higher.surprise_score >= scored.surprise_score - 1e-6
    assert all(higher.region_scores[name] >= scored.region_scores[name] - 1e-6
               for name in scored.region_scores)
    broken = raised.clone()
    broken[0, 0] = float('nan')
    refused = score_surprise(broken, baseline, scale)
    assert not refused.finite and refused.surprise_score == 0.0
