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
Frames of recordings for training: rosbag2 folders (as vjepa-bag reads them) and video files.

Each recording yields (stamp s, RGB frame, part): part 'train' for its first images, then
'validation' for the last `validation` fraction, so held-out clips never share a frame with
training clips. A gap longer than `max_gap` between stamps ends a run of consecutive frames.
"""

from pathlib import Path
from typing import Iterator

import numpy as np

from vjepa_nodes.image_messages import ImageError, rgb_frame, stamp_seconds

Frame = tuple[float, np.ndarray, str]


class RecordingError(ValueError):
    """A recording that cannot be read as asked."""


def recording_frames(path: Path, topic: str | None, validation: float) -> Iterator[Frame]:
    """Yield the frames of a rosbag2 folder (its image `topic`) or a video file."""
    if path.is_dir():
        yield from _bag_frames(path, topic, validation)
    elif path.is_file():
        yield from _video_frames(path, validation)
    else:
        raise RecordingError(f'{path} is neither a rosbag2 folder nor a video file')


def _part(index: int, total: int, validation: float) -> str:
    return 'validation' if index >= round(total * (1.0 - validation)) else 'train'


def _bag_frames(path: Path, topic: str | None, validation: float) -> Iterator[Frame]:
    try:
        from rosbags.highlevel import AnyReader
        from rosbags.typesys import get_typestore, Stores
    except ImportError:
        raise RecordingError('reading bags needs the rosbags package: pip install rosbags')
    from vjepa_nodes.tools.bag import IMAGE_TYPES, image_topic
    with AnyReader([path], default_typestore=get_typestore(Stores.ROS2_HUMBLE)) as reader:
        connection = image_topic(reader, topic, path)  # ValueError, as RecordingError is
        convert = IMAGE_TYPES[connection.msgtype]
        for index, (_, _, data) in enumerate(reader.messages(connections=[connection])):
            message = reader.deserialize(data, connection.msgtype)
            try:
                frame = np.array(rgb_frame(convert, message))  # owned and writable
            except ImageError as error:
                print(f'skipping an image of {path}: {error}')
                continue
            yield (stamp_seconds(message.header), frame,
                   _part(index, connection.msgcount, validation))


def _video_frames(path: Path, validation: float) -> Iterator[Frame]:
    import cv2
    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        raise RecordingError(f'cannot open {path} as a video file')
    try:
        fps = capture.get(cv2.CAP_PROP_FPS) or 30.0
        total = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
        index = 0
        while True:
            ok, frame = capture.read()
            if not ok:
                return
            yield index / fps, np.ascontiguousarray(frame[..., ::-1]), _part(
                index, total, validation)
            index += 1
    finally:
        capture.release()


def clip_windows(frames: Iterator[Frame], num_frames: int, stride: int,
                 max_gap: float) -> Iterator[tuple[str, list[np.ndarray]]]:
    """Yield (part, frames) of clips of consecutive frames, every `stride` frames."""
    window: list[np.ndarray] = []
    last_stamp, last_part, since, first = None, None, 0, True
    for stamp, frame, part in frames:
        if (part != last_part or last_stamp is None or not 0 < stamp - last_stamp <= max_gap
                or (window and frame.shape != window[-1].shape)):
            window, since, first = [], 0, True  # a new run of consecutive frames
        last_stamp, last_part = stamp, part
        window = (window + [frame])[-num_frames:]
        since += 1
        if len(window) == num_frames and (first or since >= stride):
            yield part, list(window)
            since, first = 0, False
