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

"""V-JEPA 2 video encoder: sizes, checkpoint loading and construction."""

from vjepa_nodes.encoder.build import build_encoder, RANDOM_WEIGHTS_SOURCE, RandomWeightsWarning
from vjepa_nodes.encoder.checkpoint import CheckpointError, load_checkpoint
from vjepa_nodes.encoder.config import ENCODER_CONFIGS, EncoderConfig, get_encoder_config
from vjepa_nodes.encoder.vit import clip_token_grid, VJepa2Encoder

__all__ = [
    'build_encoder', 'CheckpointError', 'clip_token_grid', 'ENCODER_CONFIGS', 'EncoderConfig',
    'get_encoder_config', 'load_checkpoint', 'RANDOM_WEIGHTS_SOURCE', 'RandomWeightsWarning',
    'VJepa2Encoder',
]
