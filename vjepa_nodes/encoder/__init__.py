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

"""V-JEPA 2 video encoder: sizes, checkpoint loading and construction (imported on first use)."""

from vjepa_nodes.lazy_exports import lazy_exports

_EXPORTS = {
    **dict.fromkeys(('build_encoder', 'RANDOM_WEIGHTS_SOURCE', 'RandomWeightsWarning'),
                    'vjepa_nodes.encoder.build'),
    **dict.fromkeys(('CheckpointError', 'load_checkpoint'), 'vjepa_nodes.encoder.checkpoint'),
    **dict.fromkeys(('ENCODER_CONFIGS', 'EncoderConfig', 'get_encoder_config'),
                    'vjepa_nodes.encoder.config'),
    **dict.fromkeys(('clip_token_grid', 'VJepa2Encoder'), 'vjepa_nodes.encoder.vit'),
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
