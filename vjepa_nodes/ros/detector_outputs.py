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

"""Helpers of the obstacle_detector node: the debug overlay, log forwarding."""

import logging

import cv2
import numpy as np

from vjepa_nodes.perception.detector import DetectionResult


def overlay(frame: np.ndarray, detection: DetectionResult) -> np.ndarray:
    """Tint an RGB frame where it changed (more heat, more colour), with the scores on top."""
    heat = np.clip(detection.heatmap, 0.0, 1.0)
    colours = cv2.applyColorMap((heat * 255).astype(np.uint8), cv2.COLORMAP_JET)[..., ::-1]
    alpha = 0.7 * heat[..., None]  # unchanged pixels stay as the camera saw them
    image = (frame * (1.0 - alpha) + colours * alpha).astype(np.uint8)
    scores = detection.region_scores
    text = (f"{detection.motion_score:.2f}  L{scores['left']:.2f} C{scores['center']:.2f} "
            f"R{scores['right']:.2f}{'  OBSTACLE' if detection.obstacle else ''}")
    cv2.putText(image, text, (5, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1)
    return image


class RosLogHandler(logging.Handler):
    """Forward the core's Python log records (device choice, weights, compilation) to ROS."""

    def __init__(self, ros_logger) -> None:
        super().__init__()
        self._ros_logger = ros_logger

    def emit(self, record: logging.LogRecord) -> None:
        message = self.format(record)
        if record.levelno >= logging.ERROR:
            self._ros_logger.error(message)
        elif record.levelno >= logging.WARNING:
            self._ros_logger.warning(message)
        else:
            self._ros_logger.info(message)
