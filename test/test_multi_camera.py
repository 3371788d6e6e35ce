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

"""One detector, several cameras: batches, fair turns, and cameras that never mix."""

import dataclasses

import numpy as np
import pytest
import torch
from vjepa_nodes.perception.detector import ObstacleDetector
from vjepa_nodes.synthetic import MovingObject, SyntheticScene

FPS = 10
SCENES = {'front': SyntheticScene(320, 240, (MovingObject(100, 100, 60, vx=80),), seed=1),
          'left': SyntheticScene(320, 240, (MovingObject(250, 60, 40, vx=-120),), seed=2),
          'rear': SyntheticScene(320, 240, (), seed=3)}


def make_detector(cameras=(), stagger_clips=False, **settings) -> ObstacleDetector:
    """Cameras whose clips are ready together, unless staggered: most tests are of batches."""
    return ObstacleDetector('small', img_size=128, num_frames=8, stride=4, device='cpu',
                            precision='fp32', allow_random_weights=True, cameras=cameras,
                            stagger_clips=stagger_clips, **settings)


class BatchLog:
    """Record the batch shapes a backend is called with (the backend itself runs)."""

    def __init__(self, backend, fail_for=None) -> None:
        self.backend, self.fail_for, self.shapes = backend, fail_for, []

    def __getattr__(self, name):
        return getattr(self.backend, name)

    def __call__(self, clip: torch.Tensor) -> torch.Tensor:
        self.shapes.append(tuple(clip.shape))
        if self.fail_for is not None and clip.shape[3:] == self.fail_for:
            raise RuntimeError('simulated device fault')
        return self.backend(clip)


def feed(detector, frame_index: int, cameras=None, scenes=SCENES) -> None:
    for name in cameras or detector.cameras:
        detector.add_frame(scenes[name].frame(frame_index / FPS), frame_index / FPS, name)


def test_cameras_share_batches_and_score_as_if_alone():
    together = make_detector(('front', 'left'))
    log = together.backend = BatchLog(together.backend)
    alone = {name: make_detector() for name in ('front', 'left')}
    scores = {name: [] for name in alone}
    for i in range(24):
        feed(together, i)
        for name, detector in alone.items():
            detector.add_frame(SCENES[name].frame(i / FPS), i / FPS)
            single = detector.detect()
            if single is not None:
                scores[name].append(single)
        for name, result in together.detect_all().results.items():
            assert result.camera == name
            expected = scores[name][-1]
            assert result.clip_end == expected.clip_end
            assert result.motion_score == pytest.approx(expected.motion_score, abs=1e-4)
            assert np.abs(result.heatmap - expected.heatmap).max() < 1e-4
    assert log.shapes and all(shape[0] == 2 for shape in log.shapes)  # one batch per round
    assert max(r.motion_score for r in scores['front'][1:]) > 0.01


def test_staggered_cameras_with_frames_together_are_encoded_one_at_a_time():
    detector = make_detector(('front', 'left', 'rear'), stagger_clips=True)
    log = detector.backend = BatchLog(detector.backend)
    served = []  # (frame index, camera) of each result
    for i in range(24):
        feed(detector, i)
        served += [(i, name) for name in detector.detect_all().results]
    assert all(shape[0] == 1 for shape in log.shapes)
    # Camera k of 3 finishes clips k*4//3 frames after the first, every 4 frames.
    assert served == [(first + 4 * turn, name) for turn in range(5)
                      for first, name in ((7, 'front'), (8, 'left'), (9, 'rear'))
                      if first + 4 * turn < 24]
    # A new stride spreads them again on the detector's clock: camera k of 3's clips start on
    # the frames 6k/3 + 6j (end 7 frames later), where that is at least 3/4 stride after its
    # last clip (front's was at 23: 31, not 25).
    detector.update_config(dataclasses.replace(detector.config, stride=6))
    served.clear()
    for i in range(24, 42):
        feed(detector, i)
        served += [(i, name) for name in detector.detect_all().results]
    assert all(shape[0] == 1 for shape in log.shapes)
    assert served == [(27 + 2 * turn, ('left', 'rear', 'front')[turn % 3])
                      for turn in range(8)]


def test_cameras_take_turns_when_more_are_ready_than_fit():
    detector = make_detector(('front', 'left', 'rear'), max_batch=2)
    rounds = []
    for i in range(8):  # the first clips of all three are ready together
        feed(detector, i)
    for i in range(8, 8 + 3 * 4, 4):
        rounds.append(detector.detect_all().results)
        for j in range(i, i + 4):  # a stride of new frames: every camera has a clip again
            feed(detector, j)
    assert [sorted(results) for results in rounds] == [
        ['front', 'left'], ['front', 'rear'], ['left', 'rear']]
    # The camera left out got its newest clip, not the one that waited.
    assert rounds[1]['rear'].clip_end == pytest.approx(11 / FPS)


def test_a_restart_on_one_camera_leaves_the_others_alone():
    detector = make_detector(('front', 'left'))
    for i in range(16):
        feed(detector, i)
        detector.detect_all()
    small = SyntheticScene(160, 120, (), seed=4)
    detector.add_frame(small.frame(1.6), 1.6, 'left')  # a new size restarts 'left' only
    for i in range(16, 20):
        feed(detector, i, ['front'])
    front = detector.detect_all().results['front']
    assert front.has_reference and detector.camera('left').latest is not None
    assert len(detector.camera('left').buffer) == 1


def test_a_failed_batch_fails_its_cameras_only():
    detector = make_detector(('front', 'left'))
    square = {**SCENES, 'left': SyntheticScene(160, 160, (), seed=4)}  # another clip shape
    detector.backend = BatchLog(detector.backend, fail_for=(112, 144))  # 'front' clips fail
    for i in range(8):
        feed(detector, i, scenes=square)
    detections = detector.detect_all()
    assert set(detections.failures) == {'front'} and set(detections.results) == {'left'}
    assert str(detections.failures['front']) == 'simulated device fault'
    with pytest.raises(ValueError, match='2 cameras: name one'):
        detector.detect()


def test_shape_specialised_backends_prepare_every_batch_size_at_the_first_clip():
    detector = make_detector(('front', 'left', 'rear'))
    log = detector.backend = BatchLog(detector.backend)
    log.pads_batches = True  # as with compilation or CUDA graphs, without their minutes
    for i in range(8):
        feed(detector, i)
    assert sorted(detector.detect_all().results) == ['front', 'left', 'rear']
    # Sizes 2 and 4 prepared first, then the three clips padded to 4.
    assert [shape[0] for shape in log.shapes] == [2, 4, 4]
    for i in range(8, 12):
        feed(detector, i, ['front', 'left'])
    assert sorted(detector.detect_all().results) == ['front', 'left']
    assert [shape[0] for shape in log.shapes] == [2, 4, 4, 2]  # nothing new to prepare


def test_onnxruntime_exports_once_for_every_batch_size(tmp_path):
    detector = make_detector(('front', 'left', 'rear'), backend='onnxruntime',
                             cache_dir=str(tmp_path))
    log = detector.backend = BatchLog(detector.backend)
    for i in range(8):
        feed(detector, i)
    assert sorted(detector.detect_all().results) == ['front', 'left', 'rear']
    for i in range(8, 12):
        feed(detector, i, ['front'])
    assert list(detector.detect_all().results) == ['front']
    assert [shape[0] for shape in log.shapes] == [3, 1]  # no padding
    assert len(list(tmp_path.glob('*/*.onnx'))) == 1  # one dynamic-batch export


def test_unknown_cameras_are_refused_by_name():
    detector = make_detector(('front', 'left'))
    with pytest.raises(ValueError, match="unknown camera 'rear'; this detector has 'front', "
                                         "'left'"):
        detector.add_frame(SCENES['rear'].frame(0.0), 0.0, 'rear')
    with pytest.raises(ValueError, match='cameras=.* is not allowed'):
        make_detector(('front', 'front'))
