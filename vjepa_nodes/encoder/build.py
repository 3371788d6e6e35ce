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

"""Build a V-JEPA 2 encoder with weights: a checkpoint, or random weights only when asked."""

import logging
from pathlib import Path
import warnings

import torch

from vjepa_nodes.encoder.checkpoint import check_fits, load_checkpoint
from vjepa_nodes.encoder.config import (
    get_encoder_config, HF_MODEL_IDS, OFFICIAL_URLS, OFFICIAL_URLS_2_1)
from vjepa_nodes.encoder.vit import VJepa2Encoder

_logger = logging.getLogger('vjepa_nodes')
RANDOM_WEIGHTS_SOURCE = 'RANDOM (not pretrained; scores are meaningless)'
RANDOM_WEIGHTS_SEED = 0


class RandomWeightsWarning(UserWarning):
    """The encoder runs with random weights, on request."""


def build_encoder(model_size: str, *, model_version: str = '2',
                  checkpoint: str | Path | None = None, checkpoint_key: str | None = None,
                  allow_random_weights: bool = False) -> VJepa2Encoder:
    """
    Return a V-JEPA 2 or 2.1 encoder in eval mode, on the CPU, in fp32, with its weights loaded.

    :param model_size: V-JEPA 2: 'large', 'huge' or 'giant'; 2.1: 'base', 'large', 'giant' or
        'gigantic' ('small' and 'tiny' are test-only sizes).
    :param model_version: '2' or '2.1'.
    :param checkpoint: official `.pt`, `.safetensors`, Hugging Face snapshot directory or id.
    :param checkpoint_key: entry of an official `.pt` ('encoder', 'target_encoder',
        'ema_encoder'); None: the one the release uses.
    :param allow_random_weights: with no checkpoint, use random weights (loudly) instead of
        failing.
    """
    config = get_encoder_config(model_size, model_version)
    if not checkpoint:
        if not allow_random_weights:
            hint = (f' Get {_published_weights(model_size, model_version)}.'
                    if config.released else '')
            raise ValueError(
                f'no checkpoint given for model_size={model_size!r}: pass checkpoint=<.pt, '
                '.safetensors, snapshot directory or Hugging Face id>, or set '
                f'allow_random_weights=True for tests (scores are then meaningless).{hint}')
        # Seeded: every build of a size gets the same weights, so that backends, exports and
        # their cache agree on what "random weights" are.
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(RANDOM_WEIGHTS_SEED)
            encoder = VJepa2Encoder(config)
        encoder.weights_source = RANDOM_WEIGHTS_SOURCE
        message = (f'V-JEPA {model_version} {model_size} encoder runs with '
                   f'{RANDOM_WEIGHTS_SOURCE}')
        _logger.warning(message)
        warnings.warn(message, RandomWeightsWarning, stacklevel=2)
        return _for_inference(encoder)
    state_dict, source = load_checkpoint(checkpoint, checkpoint_key or config.checkpoint_key,
                                         default_key=config.checkpoint_key)
    with torch.device('meta'):  # no wasted random init: every tensor comes from the file
        encoder = VJepa2Encoder(config)
    check_fits(state_dict, encoder, model_size, source)
    # copy=True: own the memory rather than keep pages mapped from a file that may change.
    encoder.load_state_dict(
        {name: tensor.to(torch.float32, copy=True) for name, tensor in state_dict.items()},
        strict=True, assign=True)
    encoder.weights_source = source
    _logger.info(f'loaded V-JEPA {model_version} {model_size} encoder weights from {source}')
    return _for_inference(encoder)


def _published_weights(model_size: str, model_version: str) -> str:
    if model_version == '2.1':
        return OFFICIAL_URLS_2_1[model_size]
    return f'{HF_MODEL_IDS[model_size]} or {OFFICIAL_URLS[model_size]}'


def _for_inference(encoder: VJepa2Encoder) -> VJepa2Encoder:
    return encoder.eval().requires_grad_(False)
