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

"""The detector's surprise model: its predictor, checked against the encoder and the clip."""

import logging

from vjepa_nodes.encoder.onnx_export import weights_digest
from vjepa_nodes.encoder.predictor_files import load_predictor, random_predictor, TrainedOn
from vjepa_nodes.perception.config import DetectorConfig
from vjepa_nodes.perception.surprise import SurpriseModel

_logger = logging.getLogger('vjepa_nodes')


def build_surprise(config: DetectorConfig, backend) -> SurpriseModel:
    """
    Load the predictor `config` names and return the surprise model of the detector.

    The predictor comes from predictor_checkpoint, else from the `predictor` entry of
    checkpoint; random only with allow_random_weights and neither given. A trained predictor
    must have been trained on this encoder's weights and clip layout; its validation loss is the
    default surprise baseline. Raises ValueError (CheckpointError) saying what does not fit.
    """
    source = config.predictor_checkpoint or config.checkpoint
    trained_on = None
    if source:
        predictor, trained_on = load_predictor(source, config.model_size, config.model_version)
    elif config.allow_random_weights:
        predictor = random_predictor(config.model_size, config.model_version)
    else:
        raise ValueError('surprise needs a predictor: set predictor_checkpoint (a released .pt '
                         'or a file from vjepa-train-predictor), or a checkpoint that holds one')
    if trained_on is not None:
        _check_trained_on(trained_on, config, weights_digest(backend.encoder), source)
    weight = backend.encoder.patch_embed.proj.weight  # the encoder's device and dtype
    model = SurpriseModel(predictor.to(weight.device, weight.dtype), backend.encoder,
                          config.surprise_horizon,
                          # Random weights: any baseline is as meaningless as the scores.
                          baseline=trained_on.validation_loss if trained_on else (
                              None if source else 0.0),
                          fast_path=backend.runner.fast_path)
    baseline = model.resolve_baseline(config.scoring.surprise_baseline)  # refused if unknown
    _logger.info(f'surprise: {model.description}; scoring with baseline {baseline:.3f}')
    return model


def _check_trained_on(trained_on: TrainedOn, config: DetectorConfig, digest: str,
                      source: str) -> None:
    """Refuse a trained predictor used with other encoder weights or another clip layout."""
    problems = []
    if trained_on.weights_digest != digest:
        problems.append(f'it was trained on other encoder weights ({trained_on.weights_source}, '
                        f'sha256 {trained_on.weights_digest[:12]}; this encoder: {digest[:12]})')
    for name in ('img_size', 'num_frames', 'surprise_horizon'):
        if getattr(trained_on, name) != getattr(config, name):
            problems.append(f'it was trained with {name} {getattr(trained_on, name)}, the '
                            f'detector has {getattr(config, name)}')
    if problems:
        raise ValueError(f'the predictor in {source} does not fit this detector: '
                         + '; '.join(problems))
