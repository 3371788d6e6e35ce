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

"""ClipBuffer: clip timing, stride, counters, rejection of bad timing, resets."""

import random
import threading

from hypothesis import given, settings, strategies as st
import numpy as np
import pytest
from vjepa_nodes.perception.clip_buffer import ClipBuffer, FrameStatus, PhaseClock

SMALL = np.zeros((4, 6, 3), np.uint8)
OTHER_SIZE = np.zeros((6, 4, 3), np.uint8)


def _feed(buffer, stamps, frame=SMALL):
    return [buffer.add(frame, stamp) for stamp in stamps]


def test_first_clip_when_full_then_every_stride():
    buffer = ClipBuffer(num_frames=4, stride=2, max_gap=1.0)
    taken = []
    for i in range(10):
        buffer.add(SMALL, i * 0.1)
        clip = buffer.take_clip()
        if clip:
            taken.append((i, clip.stamps))
    assert [i for i, _ in taken] == [3, 5, 7, 9]
    assert taken[0][1] == pytest.approx((0.0, 0.1, 0.2, 0.3))
    assert taken[1][1] == pytest.approx((0.2, 0.3, 0.4, 0.5))


def test_a_phase_delays_the_first_clip_after_every_start():
    buffer = ClipBuffer(num_frames=4, stride=3, max_gap=1.0, phase=2)
    taken = []
    for i in range(20):
        stamp = i * 0.1 + (5.0 if i >= 10 else 0.0)  # a gap at frame 10 restarts the clip
        buffer.add(SMALL, stamp)
        if buffer.take_clip():
            taken.append(i)
    assert taken == [5, 8, 15, 18]  # full + 2, then every 3; after the restart the same
    assert buffer.counters.dropped == 2 + 1 + 2  # waiting for the phase, skipped, waiting


@pytest.mark.parametrize(('grid', 'expected'), [
    (True, [5, 12, 25, 36, 44]), (False, [5, 13, 25, 33, 41])])
def test_a_clip_taken_late_leaves_the_next_on_the_stride_grid(grid, expected):
    buffer = ClipBuffer(num_frames=4, stride=8, max_gap=1.0, phase=1, grid=grid)
    taken = []
    for i in range(46):
        buffer.add(SMALL, i * 0.1)
        if i not in (4, 20, 21, 22, 23, 24) and buffer.take_clip():  # a busy taker
            taken.append(i)
    # Grid: due at 4, 12, 20, 28 ...: frame 4's clip taken 1 late (<= 8 // 4), the next at 12;
    # frame 20's taken 5 late, so 28 is too close (3 frames) and the next is due at 36.
    # Without: a stride after each take.
    assert taken == expected


def test_a_new_stride_applies_to_the_next_clip():
    buffer = ClipBuffer(num_frames=2, stride=64, max_gap=1.0)
    taken = []
    for i in range(12):
        if i == 4:
            buffer.retime(stride=2, phase=0)  # 62 frames before the next clip at the old one
        buffer.add(SMALL, i * 0.1)
        if buffer.take_clip():
            taken.append(i)
    assert taken == [1, 4, 6, 8, 10]
    fresh = ClipBuffer(num_frames=2, stride=4, max_gap=1.0, phase=3)
    fresh.add(SMALL, 0.0)
    fresh.retime(stride=4, phase=1)  # the first clip's phase changes before it was due
    fresh.add(SMALL, 0.1)
    assert fresh.take_clip() is None
    fresh.add(SMALL, 0.2)
    assert fresh.take_clip() is not None
    with pytest.raises(ValueError, match='stride must be >= 1 and phase >= 0'):
        fresh.retime(stride=0, phase=0)


def test_cameras_retimed_together_are_spread_on_the_new_stride():
    cameras = [ClipBuffer(num_frames=2, stride=8, max_gap=1.0, phase=phase, grid=True)
               for phase in (0, 4)]
    taken = {0: [], 1: []}
    for i in range(40):
        if i == 13:  # camera 0's last clip was at 9, camera 1's at 5
            for index, camera in enumerate(cameras):
                camera.retime(stride=4, phase=2 * index)
        for index, camera in enumerate(cameras):
            camera.add(SMALL, i * 0.1)
            if camera.take_clip():
                taken[index].append(i)
    # From frame 13 on, 2 frames apart again: camera 0 at 13 + 0, camera 1 at 13 + 2.
    assert taken == {0: [1, 9, 13, 17, 21, 25, 29, 33, 37], 1: [5, 15, 19, 23, 27, 31, 35, 39]}
    cameras[0].retime(stride=4, phase=0)  # unchanged: the countdown stays (next due at 41)
    cameras[0].add(SMALL, 4.0)
    assert cameras[0].take_clip() is None
    cameras[0].add(SMALL, 4.1)
    assert cameras[0].take_clip() is not None
    soon = ClipBuffer(num_frames=2, stride=8, max_gap=1.0, grid=True)
    for i in range(3):  # a clip at frame 1, then one new frame
        soon.add(SMALL, i * 0.1)
        soon.take_clip()
    soon.retime(stride=8, phase=1)  # 1 + 1 + 1 frames after the last clip: under 6
    taken = [i for i in range(3, 14) if soon.add(SMALL, i * 0.1) and soon.take_clip()]
    assert taken == [12]  # frame 4 would be too soon: a stride later


@given(num_frames=st.sampled_from([2, 4, 8]), stride=st.integers(1, 12), phase=st.integers(0, 11),
       busy=st.lists(st.booleans(), min_size=1, max_size=80))
def test_clips_keep_their_grid_and_never_come_much_closer_than_the_stride(
        num_frames, stride, phase, busy):
    buffer = ClipBuffer(num_frames, stride, max_gap=1.0, phase=phase, grid=True)
    taken = [i for i, skip in enumerate(busy)
             if buffer.add(SMALL, i * 0.1) and not skip and buffer.take_clip()]
    first = num_frames + phase - 1  # the frame index the first clip is due at
    assert all(i >= first for i in taken)
    for a, b in zip(taken, taken[1:]):
        assert b - a >= stride - stride // 4
        if not any(busy[a + 1:b]):  # taken as soon as due: due on the grid
            assert (b - first) % stride == 0
    if not any(busy):  # a taker that is never busy gets every clip on time
        assert taken == list(range(first, len(busy), stride))


def _staggered_on_common_ticks(num_frames, stride, starts, clock, period=1 / 30,
                               retime=(None, None), lost=frozenset(), ticks=None, jitter=None):
    """
    Cameras start on the ticks `starts`, then get a frame on every tick; clips taken at once.

    `retime`: (tick, stride) of a stride change before that tick's frames, or (None, None).
    `lost`: (camera, tick) of frames that never reach the camera. `jitter`: a function of the
    tick that moves its stamp (the same for every camera, as a synchronised rig stamps them).
    """
    count = len(starts)
    cameras = [ClipBuffer(num_frames, stride, max_gap=1.0, phase=index * stride // count,
                          grid=True, clock=clock) for index in range(count)]
    taken = {index: [] for index in range(count)}
    retime_at, new_stride = retime
    offsets = {}  # tick -> its stamp's jitter, drawn once for every camera
    jitter = jitter and (lambda tick, draw=jitter: offsets.setdefault(tick, draw()))
    for tick in range(ticks or max(starts) + num_frames + 3 * max(stride, new_stride or 0)):
        if tick == retime_at:
            for index, camera in enumerate(cameras):
                camera.retime(new_stride, index * new_stride // count)
        for index, camera in enumerate(cameras):
            if tick >= starts[index] and (index, tick) not in lost:
                camera.add(SMALL, 1000.0 + tick * period + (jitter(tick) if jitter else 0.0))
                if camera.take_clip():
                    taken[index].append(tick)
    return taken


def test_cameras_heard_at_different_times_keep_their_phases_on_a_shared_clock():
    # Camera 1 is heard 2 frames after camera 0. Counted from its own start, its phase (2 of 4)
    # would land on camera 0's frames; counted from the shared zero, it does not.
    assert _staggered_on_common_ticks(4, 4, [0, 2], None) == {0: [3, 7, 11, 15], 1: [7, 11, 15]}
    assert _staggered_on_common_ticks(4, 4, [0, 2], PhaseClock()) == {
        0: [3, 7, 11, 15], 1: [5, 9, 13, 17]}


@given(num_frames=st.sampled_from([2, 4, 8]), stride=st.integers(2, 10),
       starts=st.lists(st.integers(0, 40), min_size=2, max_size=4),
       period=st.sampled_from([1 / 30, 1 / 15, 0.1]),
       retime=st.one_of(st.just((None, None)), st.tuples(st.integers(1, 60), st.integers(2, 10))))
def test_staggered_cameras_on_a_shared_clock_never_finish_clips_together(
        num_frames, stride, starts, period, retime):
    retime_at, new_stride = retime
    if len(starts) > min(stride, new_stride or stride):
        return  # more cameras than frames in a stride: some must share
    taken = _staggered_on_common_ticks(num_frames, stride, starts, PhaseClock(), period, retime)
    ticks = [tick for found in taken.values() for tick in found]
    assert len(ticks) == len(set(ticks))
    for index, found in taken.items():
        # No camera starves (a stride change may put its first clip off by the new stride).
        assert found and found[0] - starts[index] < num_frames + stride + (new_stride or 0)
        for a, b in zip(found, found[1:]):
            if retime_at is None or b < retime_at:
                assert b - a == stride
            elif a >= retime_at:
                assert b - a == new_stride


@given(num_frames=st.sampled_from([4, 8]), stride=st.integers(4, 10),
       starts=st.lists(st.integers(0, 20), min_size=2, max_size=4),
       lost=st.sets(st.tuples(st.integers(0, 3), st.integers(0, 59)), max_size=12))
def test_staggered_cameras_that_lose_frames_keep_their_phases(num_frames, stride, starts, lost):
    # Frames are lost in the first 60 ticks only, at most one in any ring (so that a ring
    # always shows the frame period); from then on no two cameras finish together.
    kept = set()
    for camera, tick in sorted(lost):
        if not any(camera == other and tick - gone <= num_frames for other, gone in kept):
            kept.add((camera, tick))
    taken = _staggered_on_common_ticks(num_frames, stride, starts, PhaseClock(), lost=kept,
                                       ticks=120)
    late = [tick for found in taken.values() for tick in found if tick >= 60 + 2 * stride]
    assert late and len(late) == len(set(late))


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), jitter_ms=st.sampled_from([0.5, 1.0, 2.0]),
       starts=st.lists(st.integers(0, 60), min_size=8, max_size=8))
def test_eight_cameras_with_jittered_stamps_keep_their_phases(seed, jitter_ms, starts):
    # The defaults (16 frames, stride 8) at 30 Hz, stamps jittered by a few ms as a driver's
    # are: after the first clips no two cameras finish together.
    draw = random.Random(seed)
    taken = _staggered_on_common_ticks(16, 8, starts, PhaseClock(), ticks=600,
                                       jitter=lambda: draw.gauss(0.0, jitter_ms / 1e3))
    late = [tick for found in taken.values() for tick in found if tick >= 120]
    assert late and len(late) == len(set(late))


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), loss=st.floats(0.5, 0.9),
       starts=st.lists(st.integers(0, 20), min_size=8, max_size=8))
def test_eight_cameras_that_lose_most_frames_for_a_while_keep_their_phases(seed, loss, starts):
    # As while the first clips compile: for 200 ticks each camera loses most of its frames (at
    # random, never a second in a row: max_gap would restart it); afterwards no two finish
    # together. Counted on their own, the cameras' countdowns slipped apart.
    draw = random.Random(seed)
    lost = set()
    for camera in range(8):
        for tick in range(40, 240):
            if (camera, tick - 1) not in lost and draw.random() < loss:
                lost.add((camera, tick))
    taken = _staggered_on_common_ticks(16, 8, starts, PhaseClock(), lost=lost, ticks=400)
    late = [tick for found in taken.values() for tick in found if tick >= 240 + 16]
    assert late and len(late) == len(set(late))


@given(seed=st.integers(0, 2**32 - 1), loss=st.floats(0.0, 0.6), stride=st.integers(2, 10))
def test_a_clocked_camera_counts_the_frames_it_loses(seed, loss, stride):
    # Up to 60 % of frames lost (a tenth of the intervals must be of one frame). Each clip is
    # taken with the first frame the camera gets at or after its grid point,
    # which is the first on the clock at least 3/4 stride after the last clip.
    draw = random.Random(seed)
    buffer = ClipBuffer(4, stride, max_gap=1.0, grid=True, clock=PhaseClock())
    got, taken = [], []
    for tick in range(300):
        if tick < 40 or not got or got[-1] != tick - 1 or draw.random() >= loss:
            buffer.add(SMALL, 1000.0 + tick / 30)
            got.append(tick)
            if buffer.take_clip():
                taken.append(tick)
    grid = taken[0] % stride  # the clock's first camera keeps its own start
    for last, clip in zip(taken, taken[1:]):
        soonest = last + stride - stride // 4
        point = soonest + (grid - soonest) % stride
        assert clip == min(tick for tick in got if tick >= point), (last, clip, point)


def test_stride_longer_than_clip_skips_frames_and_counts_them():
    buffer = ClipBuffer(num_frames=2, stride=5, max_gap=1.0)
    clips = []
    for i in range(12):
        buffer.add(SMALL, i * 0.1)
        if (clip := buffer.take_clip()):
            clips.append(clip.stamps)
    assert clips == [pytest.approx((0.0, 0.1)), pytest.approx((0.5, 0.6)),
                     pytest.approx((1.0, 1.1))]
    assert buffer.counters.dropped == 6  # frames 2-4 and 7-9 never made it into a clip


def test_duplicates_are_ignored_and_out_of_order_rejected():
    buffer = ClipBuffer(num_frames=2, stride=1, max_gap=1.0)
    assert _feed(buffer, [1.0, 1.0, 0.5, 1.1]) == [
        FrameStatus.ADDED, FrameStatus.DUPLICATE, FrameStatus.OUT_OF_ORDER, FrameStatus.ADDED]
    assert buffer.take_clip().stamps == (1.0, 1.1)
    counters = buffer.counters
    assert (counters.added, counters.duplicates, counters.out_of_order) == (2, 1, 1)


def test_size_change_restarts_the_clip():
    buffer = ClipBuffer(num_frames=2, stride=1, max_gap=1.0)
    _feed(buffer, [0.0, 0.1])
    assert buffer.add(OTHER_SIZE, 0.2) is FrameStatus.RESET_SIZE
    assert buffer.take_clip() is None and len(buffer) == 1
    buffer.add(OTHER_SIZE, 0.3)
    clip = buffer.take_clip()
    assert clip.stamps == (0.2, 0.3) and all(f.shape == (6, 4, 3) for f in clip.frames)
    assert buffer.counters.resets == 1 and buffer.counters.dropped == 2


def test_gap_restarts_the_clip():
    buffer = ClipBuffer(num_frames=2, stride=1, max_gap=0.5)
    _feed(buffer, [0.0, 0.1])
    first = buffer.take_clip()
    assert buffer.add(SMALL, 0.7) is FrameStatus.RESET_GAP
    assert buffer.take_clip() is None
    assert buffer.counters.dropped == 0  # both old frames had been in a clip
    buffer.add(SMALL, 0.8)
    assert buffer.take_clip().epoch == first.epoch + 1


def test_clock_jumping_back_restarts_instead_of_blinding_the_buffer():
    buffer = ClipBuffer(num_frames=2, stride=1, max_gap=0.5)
    _feed(buffer, [100.0, 100.1])
    assert buffer.add(SMALL, 100.0) is FrameStatus.OUT_OF_ORDER  # a little late: rejected
    assert buffer.add(SMALL, 3.0) is FrameStatus.RESET_GAP  # a looped bag or a new clock
    buffer.add(SMALL, 3.1)
    assert buffer.take_clip().stamps == (3.0, 3.1)


@pytest.mark.parametrize('stamp', [float('nan'), float('inf'), -float('inf')])
def test_non_finite_stamps_are_rejected(stamp):
    buffer = ClipBuffer(num_frames=2, stride=1, max_gap=0.5)
    buffer.add(SMALL, 0.0)
    with pytest.raises(ValueError, match='stamp must be a finite number'):
        buffer.add(SMALL, stamp)
    buffer.add(SMALL, 0.1)
    assert buffer.take_clip().stamps == (0.0, 0.1)


def test_frames_are_copied_in():
    buffer = ClipBuffer(num_frames=2, stride=1, max_gap=0.5)
    frame = np.ones((4, 6, 3), np.uint8)
    buffer.add(frame, 0.0)
    frame[:] = 0  # a driver reusing its buffer
    buffer.add(frame, 0.1)
    assert buffer.take_clip().frames[0].all()


def test_adding_and_taking_from_two_threads():
    buffer = ClipBuffer(num_frames=4, stride=1, max_gap=10.0)
    clips, errors = [], []

    def take():
        try:
            for _ in range(3000):
                if (clip := buffer.take_clip()):
                    clips.append(clip)
        except Exception as error:  # noqa: B902 - reported below
            errors.append(error)

    taker = threading.Thread(target=take)
    taker.start()
    for i in range(3000):
        buffer.add(SMALL, i * 1e-3)
    taker.join()
    assert not errors
    assert all(len(c.frames) == 4 and np.all(np.diff(c.stamps) > 0) for c in clips)


@pytest.mark.parametrize(('kwargs', 'message'), [
    ({'num_frames': 3, 'stride': 1, 'max_gap': 1.0}, 'num_frames must be even and >= 2'),
    ({'num_frames': 0, 'stride': 1, 'max_gap': 1.0}, 'num_frames must be even and >= 2'),
    ({'num_frames': 2, 'stride': 0, 'max_gap': 1.0}, 'stride must be >= 1'),
    ({'num_frames': 2, 'stride': 1, 'max_gap': 0.0}, 'max_gap must be > 0'),
    ({'num_frames': 2, 'stride': 1, 'max_gap': 1.0, 'phase': -1}, 'phase must be >= 0'),
])
def test_bad_settings_are_rejected(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ClipBuffer(**kwargs)


@given(num_frames=st.sampled_from([2, 4, 6]), stride=st.integers(1, 7),
       events=st.lists(st.tuples(st.floats(-0.2, 1.5), st.booleans()), max_size=60))
def test_clips_are_announced_and_never_straddle_gaps_sizes_or_disorder(
        num_frames, stride, events):
    max_gap = 1.0
    buffer = ClipBuffer(num_frames, stride, max_gap)
    stamp = 0.0
    for step, other_size in events:
        stamp += step
        status = buffer.add(OTHER_SIZE if other_size else SMALL, stamp)
        ready = buffer.clip_ready  # what wakes the node's worker: it must not miss a clip
        clip = buffer.take_clip()
        assert (clip is not None) == ready
        assert not buffer.clip_ready
        if clip is None:
            continue
        assert len(clip.frames) == num_frames
        assert len({frame.shape for frame in clip.frames}) == 1
        gaps = np.diff(clip.stamps)
        assert (gaps > 0).all() and (gaps <= max_gap).all()
        assert status in (FrameStatus.ADDED, FrameStatus.RESET_SIZE, FrameStatus.RESET_GAP)
    c = buffer.counters
    assert c.added + c.duplicates + c.out_of_order == len(events)


def test_frames_are_copied_in_unless_handed_over():
    buffer = ClipBuffer(2, 1, max_gap=1.0)
    kept, handed_over = np.zeros((4, 4, 3), np.uint8), np.zeros((4, 4, 3), np.uint8)
    buffer.add(kept, 0.0)
    buffer.add(handed_over, 0.1, copy=False)
    kept[:] = 255  # the caller reuses its array: the buffer's copy is unaffected
    clip = buffer.take_clip()
    assert clip.frames[0].max() == 0 and clip.frames[0] is not kept
    assert clip.frames[1] is handed_over
