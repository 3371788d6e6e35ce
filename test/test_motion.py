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
Motion scoring through the whole pipeline on generated scenes (small model, random weights).

Random weights are enough here: the score measures how features change between clips, and the
properties below hold for any encoder whose features follow the pixels.
"""

import math

from hypothesis import given, HealthCheck, settings, strategies as st
import numpy as np
import pytest
import torch
from vjepa_nodes.perception.clip_buffer import FrameStatus
from vjepa_nodes.perception.config import DecisionConfig, DetectorConfig, ScoringConfig
from vjepa_nodes.perception.detector import ObstacleDetector
from vjepa_nodes.perception.preprocessing import FrameError
from vjepa_nodes.perception.scoring import MotionScorer, ObstacleDecision
from vjepa_nodes.synthetic import MovingObject, SyntheticScene

WIDTH, HEIGHT, FPS = 320, 240, 10
PIPELINE = settings(max_examples=4, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])


def make_detector(model_size: str, **backend) -> ObstacleDetector:
    return ObstacleDetector(model_size, img_size=128, num_frames=8, stride=4, device='cpu',
                            precision='fp32', allow_random_weights=True, **backend)


@pytest.fixture(scope='module')
def detector():
    return make_detector('small')


@pytest.fixture(scope='module')
def onnx_detector(tmp_path_factory):
    # Exports the same (seeded) random weights on its first clip, into a private cache.
    return make_detector('small', backend='onnxruntime',
                         cache_dir=str(tmp_path_factory.mktemp('onnx_cache')))


def run(detector, scene, frames=24, brightness=lambda i: 1.0):
    """Feed `frames` frames at FPS from a fresh start; return the results with a reference."""
    detector.reset()
    results = []
    for i in range(frames):
        detector.add_frame(scene.frame(i / FPS, brightness(i)), stamp=i / FPS)
        result = detector.detect()
        if result is not None and result.has_reference:
            results.append(result)
    return results


def mean_score(results, region=None):
    return float(np.mean([r.region_scores[region] if region else r.motion_score
                          for r in results]))


def scene(seed, *objects):
    return SyntheticScene(WIDTH, HEIGHT, objects, seed=seed)


def check_properties(detector, seed):
    """Check the scoring properties the README promises, on one random texture."""
    static = mean_score(run(detector, scene(seed)))
    slow = mean_score(run(detector, scene(seed, MovingObject(160, 120, 40, vx=20))))
    fast = mean_score(run(detector, scene(seed, MovingObject(160, 120, 40, vx=150))))
    two_fast = mean_score(run(detector, scene(
        seed, MovingObject(80, 60, 40, vx=150), MovingObject(240, 180, 40, vx=-150))))
    assert static < 0.01 < slow and slow > 10 * static
    assert slow < fast < two_fast
    left = run(detector, scene(seed, MovingObject(50, 120, 50, vx=100, band=(0.0, 1 / 3))))
    assert mean_score(left, 'left') > 3 * max(mean_score(left, 'center'),
                                              mean_score(left, 'right'))
    step = run(detector, scene(seed), frames=32, brightness=lambda i: 1.0 if i < 16 else 1.35)
    assert not any(r.obstacle for r in step)
    assert max(r.motion_score for r in step) < detector.config.decision.on_threshold


@given(seed=st.integers(0, 10_000))
@PIPELINE
def test_scores_follow_motion_not_texture_or_lighting(detector, seed):
    check_properties(detector, seed)


@given(seed=st.integers(0, 10_000))
@PIPELINE
def test_properties_hold_with_the_onnxruntime_backend(onnx_detector, seed):
    check_properties(onnx_detector, seed)


# Scores of the two backends differ by float rounding only: export parity is ~4e-7 (relative).
BACKEND_SCORE_TOLERANCE = 1e-4


def test_onnxruntime_scores_equal_the_torch_backends(detector, onnx_detector):
    moving = scene(5, MovingObject(100, 100, 60, vx=80, vy=30),
                   MovingObject(250, 60, 30, vx=-120, band=(2 / 3, 1.0)))
    with_torch, with_onnx = run(detector, moving, frames=40), run(onnx_detector, moving, frames=40)
    assert len(with_torch) == len(with_onnx) == 8
    assert 'onnxruntime' in onnx_detector.backend.description
    for ours, theirs in zip(with_torch, with_onnx):
        assert ours.motion_score > 0.01
        assert theirs.motion_score == pytest.approx(ours.motion_score,
                                                    abs=BACKEND_SCORE_TOLERANCE)
        for region in ours.region_scores:
            assert theirs.region_scores[region] == pytest.approx(
                ours.region_scores[region], abs=BACKEND_SCORE_TOLERANCE)
        assert np.abs(theirs.heatmap - ours.heatmap).max() < BACKEND_SCORE_TOLERANCE
        assert theirs.obstacle == ours.obstacle


def tiny_pair(tmp_path) -> tuple[ObstacleDetector, ObstacleDetector]:
    """Return the tiny model on torch and on mlx at 64 px (MLX on a Linux CPU: 30-95x slower)."""
    settings = {'img_size': 64, 'num_frames': 8, 'stride': 4, 'device': 'cpu',
                'precision': 'fp32', 'allow_random_weights': True}
    return (ObstacleDetector('tiny', backend='torch', **settings),
            ObstacleDetector('tiny', backend='mlx', cache_dir=str(tmp_path), **settings))


def test_mlx_backend_keeps_the_properties_and_the_torch_backends_scores(tmp_path):
    with_torch, with_mlx = tiny_pair(tmp_path)
    assert with_mlx.backend.description.startswith('mlx on cpu in fp32')
    check_properties(with_mlx, seed=11)
    moving = scene(5, MovingObject(100, 100, 60, vx=80, vy=30),
                   MovingObject(250, 60, 30, vx=-120, band=(2 / 3, 1.0)))
    ours, theirs = run(with_torch, moving, frames=24), run(with_mlx, moving, frames=24)
    assert len(ours) == len(theirs) == 4
    for torch_result, mlx_result in zip(ours, theirs):
        # MLX equals PyTorch to ~1e-6 (relative) in fp32: scores agree to rounding.
        assert torch_result.motion_score > 0.01
        assert mlx_result.motion_score == pytest.approx(torch_result.motion_score,
                                                        abs=BACKEND_SCORE_TOLERANCE)
        for region, score in torch_result.region_scores.items():
            assert mlx_result.region_scores[region] == pytest.approx(
                score, abs=BACKEND_SCORE_TOLERANCE)
        assert np.abs(mlx_result.heatmap - torch_result.heatmap).max() < (
            BACKEND_SCORE_TOLERANCE)
        assert mlx_result.obstacle == torch_result.obstacle


def test_properties_hold_with_the_vjepa21_vit_base_architecture():
    check_properties(make_detector('base', model_version='2.1'), seed=11)


@pytest.mark.slow
def test_properties_hold_with_the_vit_large_architecture():
    check_properties(make_detector('large'), seed=7)


def test_same_input_gives_the_same_output(detector):
    moving = scene(3, MovingObject(100, 100, 60, vx=80, vy=30))
    first, second = run(detector, moving), run(detector, moving)
    assert [r.motion_score for r in first] == [r.motion_score for r in second]
    assert all(np.array_equal(a.heatmap, b.heatmap) for a, b in zip(first, second))


def test_result_carries_the_clip_and_a_heatmap_of_the_image(detector):
    results = run(detector, scene(1, MovingObject(260, 120, 50, vx=100, band=(2 / 3, 1.0))))
    result = results[-1]
    assert result.heatmap.shape == (HEIGHT, WIDTH) and result.heatmap.dtype == np.float32
    assert result.heatmap[:, 2 * WIDTH // 3:].mean() > 5 * result.heatmap[:, :WIDTH // 3].mean()
    assert result.time_span == pytest.approx(7 / FPS)
    assert result.latency > 0
    assert set(result.region_scores) == {'left', 'center', 'right'}
    assert 0.0 <= result.motion_score < 1.0


def test_demo_api_returns_nothing_until_the_buffer_is_full(detector):
    detector.reset()
    frames = scene(2)
    for i in range(7):
        detector.add_frame(frames.frame(i / FPS), stamp=i / FPS)
        assert detector.detect_obstacles() == (None, 0.0)
    detector.add_frame(frames.frame(0.7), stamp=0.7)
    features, score = detector.detect_obstacles()
    assert features.shape == (1, 4 * 7 * 9, 192) and score == 0.0  # 8/2 x 112/16 x 144/16


def test_bad_frames_are_rejected_without_touching_later_clips(detector):
    moving = scene(4, MovingObject(100, 100, 60, vx=80))
    clean = [r.motion_score for r in run(detector, moving)]
    detector.reset()
    noisy = []
    for i in range(24):
        for bad in (np.zeros((HEIGHT, WIDTH, 3), np.float32),
                    np.zeros((HEIGHT, WIDTH, 4), np.uint8), np.zeros((0, WIDTH, 3), np.uint8),
                    np.zeros((HEIGHT, WIDTH), np.uint8)):
            with pytest.raises(FrameError):
                detector.add_frame(bad, stamp=i / FPS)
        detector.add_frame(moving.frame(i / FPS), stamp=i / FPS)
        result = detector.detect()
        if result is not None and result.has_reference:
            noisy.append(result.motion_score)
    assert noisy == clean


def test_size_change_restarts_without_comparing_across_it(detector):
    results = run(detector, scene(5, MovingObject(100, 100, 60, vx=80)))
    assert results
    smaller = SyntheticScene(160, 120, (MovingObject(50, 50, 30, vx=40),), seed=5)
    assert detector.add_frame(smaller.frame(3.0), stamp=3.0) is FrameStatus.RESET_SIZE
    for i in range(1, 8):
        detector.add_frame(smaller.frame(3.0 + i / FPS), stamp=3.0 + i / FPS)
    result = detector.detect()
    assert not result.has_reference and result.heatmap.shape == (120, 160)


def test_gap_restarts_without_comparing_across_it(detector):
    moving = scene(6, MovingObject(100, 100, 60, vx=80))
    assert run(detector, moving)  # frames at 0.0 .. 2.3 s
    assert detector.add_frame(moving.frame(5.0), stamp=5.0) is FrameStatus.RESET_GAP
    for i in range(1, 8):
        detector.add_frame(moving.frame(5.0 + i / FPS), stamp=5.0 + i / FPS)
    result = detector.detect()
    assert not result.has_reference and result.motion_score == 0.0
    assert result.clip_start == 5.0


def test_settings_are_checked_before_any_weights_load(tmp_path):
    absent = str(tmp_path / 'absent.pt')  # loading it would fail with another message
    for kwargs, message in [
            ({'stride': 0}, 'stride=0 is not allowed: a finite value from 1 to 64'),
            ({'resize_mode': 'stretch'}, "resize_mode='stretch' is not allowed: choose one"),
            ({'num_frames': 3}, 'num_frames=3 is not allowed: .* in steps of 2'),
            ({'channel_order': 'rgba'}, "channel_order='rgba' is not allowed"),
            ({'max_gap': float('nan')}, 'max_gap=nan is not allowed'),
            ({'frozen_after': float('inf')}, 'frozen_after=inf is not allowed')]:
        with pytest.raises(ValueError, match=message):
            ObstacleDetector('tiny', checkpoint=absent, device='cpu', **kwargs)
    with pytest.raises(TypeError, match='not both'):
        ObstacleDetector('tiny', config=DetectorConfig(model_size='tiny'))


def test_hysteresis_switches_at_the_documented_thresholds():
    decision = ObstacleDecision(DecisionConfig(on_threshold=0.3, off_threshold=0.1,
                                               debounce_clips=2))
    flags = [decision.update(s) for s in (0.29, 0.3, 0.2, 0.35, 0.31, 0.2, 0.11, 0.09, 0.2,
                                          0.05, 0.04)]
    # on after two clips >= 0.3 in a row; stays on between 0.1 and 0.3; off after two < 0.1.
    assert flags == [False, False, False, False, True, True, True, True, True, True, False]


@given(scores=st.lists(st.floats(0, 1), max_size=40), debounce=st.integers(1, 4))
def test_decision_matches_its_definition(scores, debounce):
    on, off = 0.4, 0.2
    decision = ObstacleDecision(DecisionConfig(on, off, debounce))
    flag, streak = False, 0
    for score in scores:
        streak = streak + 1 if (score < off if flag else score >= on) else 0
        if streak == debounce:
            flag, streak = not flag, 0
        assert decision.update(score) is flag


@pytest.mark.parametrize(('kwargs', 'message'), [
    ({'on_threshold': 0.1, 'off_threshold': 0.2}, 'off_threshold <= on_threshold'),
    ({'on_threshold': 1.5}, 'on_threshold=1.5 is not allowed: a finite value from 0.0 to 1.0'),
    ({'off_threshold': float('nan')}, 'off_threshold=nan is not allowed'),
    ({'debounce_clips': 0}, 'debounce_clips=0 is not allowed: a finite value from 1 to 100'),
    ({'debounce_clips': 2.0}, 'debounce_clips must be an integer, got a number 2.0'),
])
def test_bad_decision_settings_are_rejected(kwargs, message):
    with pytest.raises(ValueError, match=message):
        DecisionConfig(**kwargs)


def _features_changed_where(mask: torch.Tensor, amount: float = 1.0) -> tuple:
    """Return (previous, current) tokens (1, 2*h*w, 8) where masked patches turn by `amount`."""
    previous = torch.ones(2, *mask.shape, 8)
    current = previous.clone()
    current[:, mask, 0] += amount * 10
    current[:, mask, 1] -= amount * 10
    return previous.reshape(1, -1, 8), current.reshape(1, -1, 8)


@pytest.mark.parametrize(('fraction', 'compensate', 'expected'), [
    (0.25, False, 0.25), (0.25, True, 0.25), (0.6, False, 0.6), (0.6, True, 0.0),
    (1.0, False, 0.0)])
def test_common_mode_removal_and_ego_motion_compensation(fraction, compensate, expected):
    mask = torch.zeros(4, 10, dtype=torch.bool)
    mask.view(-1)[:round(40 * fraction)] = True
    scorer = MotionScorer(ScoringConfig(ego_motion_compensation=compensate))
    previous, current = _features_changed_where(mask)
    assert not scorer.score(previous, (2, 4, 10)).has_reference
    motion = scorer.score(current, (2, 4, 10))
    assert motion.has_reference
    assert motion.motion_score == pytest.approx(expected, abs=0.01)


def test_activation_is_the_documented_soft_threshold():
    scorer = MotionScorer(ScoringConfig(change_scale=0.02, common_mode_gain=0.0))
    previous = torch.tensor([[[1.0, 0.0]] * 3])
    current = torch.tensor([[[math.cos(0.1), math.sin(0.1)]] * 3])  # 1 - cos = 0.0049958
    scorer.score(previous, (1, 1, 3))
    motion = scorer.score(current, (1, 1, 3))
    assert motion.motion_score == pytest.approx(1 - math.exp(-(1 - math.cos(0.1)) / 0.02),
                                                rel=1e-5)  # fp32


def test_added_frames_are_the_detectors_own_copies():
    # Cameras often refill one buffer: what the detector keeps must not change with it.
    detector = ObstacleDetector('tiny', img_size=64, num_frames=2, stride=1, device='cpu',
                                allow_random_weights=True)
    reused = np.zeros((48, 64, 3), np.uint8)
    detector.add_frame(reused, 0.0)
    reused[:] = 200
    detector.add_frame(reused, 0.1)
    clip = detector.camera().buffer.take_clip()
    assert clip.frames[0].max() == 0 and clip.frames[1].min() == 200
    assert not any(np.shares_memory(frame, reused) for frame in clip.frames)


def test_a_frozen_camera_is_reported_on_every_result(detector):
    scene = SyntheticScene(WIDTH, HEIGHT, seed=3)
    still = scene.frame(0.0)
    detector.reset()
    problems = []
    for i in range(24):  # the same picture with fresh stamps, 2.4 s
        detector.add_frame(still, stamp=i / FPS)
        result = detector.detect()
        if result is not None:
            problems.append(result.problem)
    assert problems[0] == ''  # 0.7 s unchanged: within frozen_after (1.0 s)
    assert problems[-1] == 'camera frozen: the same image for 2.3 s'
    detector.add_frame(scene.frame(2.4), stamp=2.4)  # sensor noise again: live
    assert detector.camera().freeze.unchanged_for == 0.0


def test_run_time_settings_change_through_one_checked_method():
    from dataclasses import replace
    detector = make_detector('tiny')
    config = detector.config
    faster = replace(config, stride=2, decision=replace(config.decision, debounce_clips=5))
    detector.update_config(faster)
    assert detector.config == faster and detector.camera().buffer.stride == 2
    assert detector.camera().decision.config.debounce_clips == 5
    assert detector.camera().scorer.config is faster.scoring
    with pytest.raises(ValueError, match='img_size, num_frames cannot change while running'):
        detector.update_config(replace(faster, img_size=64, num_frames=4, stride=3))
    assert detector.config == faster  # nothing half-applied
    assert detector.camera().buffer.stride == 2
    with pytest.raises(ValueError, match='stride=0 is not allowed'):  # checked when made
        replace(faster, stride=0)
