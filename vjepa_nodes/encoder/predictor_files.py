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
Predictor weights: read strictly from the files encoders come from, written by our trainer.

A released `.pt` holds the predictor in its `predictor` entry beside the encoders. A predictor
that vjepa-train-predictor wrote has the same layout, and a JSON sidecar beside it
(`<name>.json`) that records its shape and what it was trained on: the encoder's version, size
and weights, and the clip it saw. Such a predictor is refused for any other encoder or clip.
"""

from dataclasses import asdict, dataclass, field
import json
import logging
from pathlib import Path
import warnings

import torch

from vjepa_nodes.encoder.build import (
    RANDOM_WEIGHTS_SEED, RANDOM_WEIGHTS_SOURCE, RandomWeightsWarning)
from vjepa_nodes.encoder.checkpoint import (
    CheckpointError, key_problems, read_torch_file, resolve_source, short_list, StateDict,
    strip_official_prefixes)
from vjepa_nodes.encoder.config import get_encoder_config
from vjepa_nodes.encoder.export_spec import sidecar_path  # the same <name>.json beside it
from vjepa_nodes.encoder.predictor import (
    PredictorConfig, released_predictor_config, trainable_predictor_config, VJepaPredictor)

_logger = logging.getLogger('vjepa_nodes')
PREDICTOR_ENTRY = 'predictor'
SIDECAR_FORMAT = 'vjepa_nodes predictor 1'
# Saved in released files but not part of predicting clip targets here, and why.
IGNORED_KEYS = {
    'predictor_pos_embed': 'a sincos position table that RoPE predictors do not use',
    'img_mod_embed': "V-JEPA 2.1's embedding for single images; clips use video_mod_embed",
    'predictor_proj_context.weight': "V-JEPA 2.1's head predicting the context tokens, used by "
                                     'a training loss only',
    'predictor_proj_context.bias': "(the same head's bias)",
}


@dataclass(frozen=True)
class TrainedOn:
    """What a predictor was trained with: the encoder and the clip layout (sidecar)."""

    model_version: str
    model_size: str
    weights_source: str
    weights_digest: str  # sha256 of the frozen encoder's weights (weights_digest)
    img_size: int
    num_frames: int
    surprise_horizon: int  # newest tubelets predicted from the earlier ones
    validation_loss: float  # mean L1 on held-out clips: the error of an unsurprising clip
    details: dict = field(default_factory=dict)  # sources, clip counts, steps, ...


def save_predictor(path: str | Path, predictor: VJepaPredictor, trained_on: TrainedOn) -> Path:
    """Write `predictor` in the official layout (a `predictor` entry) and its sidecar."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Written aside and renamed into place: a reader never sees half a file.
    staging = path.with_name(path.name + '.partial')
    torch.save({PREDICTOR_ENTRY: {name: tensor.detach().cpu() for name, tensor in
                                  predictor.state_dict().items()}}, staging)
    sidecar = {'format': SIDECAR_FORMAT, 'predictor': asdict(predictor.config),
               'trained_on': asdict(trained_on)}
    sidecar_path(path).write_text(json.dumps(sidecar, indent=2) + '\n')
    staging.replace(path)
    return path


def read_sidecar(path: Path) -> tuple[PredictorConfig, TrainedOn] | None:
    """Return a trained predictor's sidecar; None beside a released file (no sidecar)."""
    sidecar = sidecar_path(path)
    if not sidecar.is_file():
        return None
    try:
        data = json.loads(sidecar.read_text())
        if data.get('format') != SIDECAR_FORMAT:
            raise ValueError(f"format {data.get('format')!r}, expected {SIDECAR_FORMAT!r}")
        return PredictorConfig(**data['predictor']), TrainedOn(**data['trained_on'])
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise CheckpointError(f'{sidecar} is not a predictor sidecar written by '
                              f'vjepa-train-predictor ({error})') from None


def load_predictor(source: str | Path, model_size: str, model_version: str,
                   ) -> tuple[VJepaPredictor, TrainedOn | None]:
    """
    Return the predictor of a file, for the encoder of `model_size` and `model_version`.

    Refuses, naming what differs, a predictor for another version or width of encoder, one that
    predicts another model's features, and one whose keys or shapes do not fit exactly. Keys
    in IGNORED_KEYS are dropped and logged with the reason.
    """
    path = resolve_source(source)
    if path.is_dir() or path.suffix == '.safetensors':
        raise CheckpointError(
            f'{path}: predictors are read from official .pt files (their "predictor" entry) or '
            'from files vjepa-train-predictor wrote; Hugging Face safetensors are not read')
    checkpoint = read_torch_file(path)
    entry = checkpoint.get(PREDICTOR_ENTRY) if isinstance(checkpoint, dict) else None
    if not isinstance(entry, dict):
        keys = short_list(sorted(map(str, checkpoint))) if isinstance(checkpoint, dict) else (
            type(checkpoint).__name__)
        raise CheckpointError(
            f'{path} has no {PREDICTOR_ENTRY!r} entry (it holds {keys or "nothing"}): pass a '
            'released V-JEPA .pt or a file vjepa-train-predictor wrote')
    not_tensors = sorted(str(key) for key, value in entry.items()
                         if not isinstance(value, torch.Tensor))
    if not_tensors:
        raise CheckpointError(f'{path}: predictor entries that are not tensors: '
                              f'{short_list(not_tensors)}')
    state_dict = strip_official_prefixes(entry)
    ignored = sorted(state_dict.keys() & IGNORED_KEYS.keys())
    for key in ignored:
        _logger.info(f'predictor in {path}: ignoring {key}: {IGNORED_KEYS[key]}')
    state_dict = {key: value for key, value in state_dict.items() if key not in IGNORED_KEYS}
    encoder = get_encoder_config(model_size, model_version)
    sidecar = read_sidecar(path)
    config = sidecar[0] if sidecar else released_predictor_config(encoder, model_size)
    what = f'V-JEPA {model_version} {model_size} encoder'
    problems = _mismatches(state_dict, config, encoder.embed_dim, model_version)
    if sidecar:
        trained = sidecar[1]
        if (trained.model_version, trained.model_size) != (model_version, model_size):
            problems.insert(0, f'it was trained for the V-JEPA {trained.model_version} '
                               f'{trained.model_size} encoder')
    if problems:
        raise CheckpointError(f'the predictor in {path} does not fit the {what}: '
                              + '; '.join(problems))
    with torch.device('meta'):
        predictor = VJepaPredictor(config)
    _check_keys(state_dict, predictor, path)
    predictor.load_state_dict({name: tensor.to(torch.float32, copy=True)
                               for name, tensor in state_dict.items()}, strict=True, assign=True)
    predictor.weights_source = f'{path} [{PREDICTOR_ENTRY}]'
    _logger.info(f"loaded the {what}'s predictor from {path}"
                 + (f' (trained on {trained.details.get("sources", "?")})' if sidecar else ''))
    return predictor.eval().requires_grad_(False), sidecar[1] if sidecar else None


def random_predictor(model_size: str, model_version: str) -> VJepaPredictor:
    """Return a seeded random predictor for the encoder, announced loudly (tests, demos)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(RANDOM_WEIGHTS_SEED)
        predictor = VJepaPredictor(trainable_predictor_config(
            get_encoder_config(model_size, model_version), model_size))
    predictor.weights_source = RANDOM_WEIGHTS_SOURCE
    message = f'V-JEPA {model_version} {model_size} predictor runs with {RANDOM_WEIGHTS_SOURCE}'
    _logger.warning(message)
    warnings.warn(message, RandomWeightsWarning, stacklevel=2)
    return predictor.eval().requires_grad_(False)


def _mismatches(state_dict: StateDict, config: PredictorConfig, encoder_dim: int,
                model_version: str) -> list[str]:
    """Say, in terms of models, why a predictor's weights cannot serve this encoder."""
    problems = []
    file_version = '2.1' if 'video_mod_embed' in state_dict else '2'
    if file_version != model_version:
        return [f'it is a V-JEPA {file_version} predictor '
                f"({'with' if file_version == '2.1' else 'without'} video_mod_embed)"]
    embed = state_dict.get('predictor_embed.weight', state_dict.get('predictor_embed.0.weight'))
    proj = state_dict.get('predictor_proj.weight')
    if embed is not None and embed.shape[1] != encoder_dim * config.levels:
        problems.append(f'it reads {embed.shape[1]}-wide tokens, this encoder makes '
                        f'{encoder_dim}' + (f' per level ({config.levels} levels)'
                                            if config.levels > 1 else ''))
    if proj is not None and proj.shape[0] != encoder_dim * config.levels:
        problems.append(f"it predicts {proj.shape[0]}-wide features, not this encoder's "
                        f'{encoder_dim * config.levels} (the distilled V-JEPA 2.1 B and L predict '
                        'their ViT-G teacher, which this node does not run); train a predictor '
                        'for this encoder with vjepa-train-predictor')
    return problems


def _check_keys(state_dict: StateDict, model: VJepaPredictor, path: Path) -> None:
    problems = key_problems(state_dict, model)
    if problems:
        config = model.config
        raise CheckpointError(
            f'the predictor in {path} does not fit a {config.depth}-block, {config.width}-wide '
            f'predictor with {config.num_mask_tokens} mask tokens: ' + '; '.join(problems))
