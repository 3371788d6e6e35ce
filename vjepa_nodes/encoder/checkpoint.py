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
Read V-JEPA 2 encoder weights from official `.pt` files and Hugging Face releases.

Every source ends as a state dict in the official parameter names (those of `VJepa2Encoder`),
checked strictly against the model: a missing, unexpected or mis-shaped key is an error that names
the file, the keys and the model size the file looks like.
"""

import json
from pathlib import Path
import pickle
import re

from safetensors import SafetensorError
from safetensors.torch import load_file as load_safetensors
import torch
from torch import nn

from vjepa_nodes.encoder.config import (
    CHECKPOINT_KEYS, HF_MODEL_IDS, MODEL_VERSIONS, OFFICIAL_URLS)
from vjepa_nodes.encoder.download import DownloadError, fetch, is_url

StateDict = dict[str, torch.Tensor]
_HF_REPO_ID = re.compile(r'^[A-Za-z0-9][\w.-]*/[\w.-]+$')
_WEIGHT_FILE_SUFFIXES = ('.pt', '.pth', '.bin', '.safetensors', '.json')
_HF_ENCODER_PREFIXES = ('encoder.layer.', 'encoder.embeddings.', 'encoder.layernorm.')
_HF_QKV = re.compile(r'^encoder\.layer\.(\d+)\.attention\.(query|key|value)\.(weight|bias)$')
# transformers' VJEPA2Model prefixes -> ours; the fused qkv is rebuilt from query/key/value.
_HF_RENAMES = (
    ('encoder.embeddings.patch_embeddings.', 'patch_embed.'),
    ('encoder.layernorm.', 'norm.'),
    ('encoder.layer.', 'blocks.'),
)
# Official keys carry wrapper prefixes from DDP ('module.') and the multi-sequence wrapper
# ('backbone.'); pos_embed is saved but unused, since the encoder uses RoPE only.
_OFFICIAL_PREFIXES = ('module.', 'backbone.')
_IGNORED_KEYS = frozenset({'pos_embed'})


class CheckpointError(ValueError):
    """A checkpoint that cannot be read or does not fit the requested encoder."""


def load_checkpoint(source: str | Path, checkpoint_key: str,
                    default_key: str) -> tuple[StateDict, str]:
    """
    Return (state dict in official names, where it came from) for a checkpoint source.

    :param source: an official `.pt` file, a `.safetensors` file, a Hugging Face snapshot
        directory, a Hugging Face model id (fetched and cached through huggingface_hub), or an
        https URL of a file (downloaded once into a cache; `#sha256=<hex>` checks it).
    :param checkpoint_key: top-level entry of an official `.pt` to use: 'encoder' (what the
        Hugging Face release holds) or 'target_encoder' (the EMA encoder the official evals use);
        V-JEPA 2.1 files hold 'ema_encoder' (B, L) or 'target_encoder' (g, G).
    :param default_key: the entry the model's release uses; only then is a bare state dict
        (no entries) taken as the encoder.
    """
    if checkpoint_key not in CHECKPOINT_KEYS:
        raise ValueError(
            f'checkpoint_key must be one of {CHECKPOINT_KEYS}, got {checkpoint_key!r}')
    path = resolve_source(source)
    if path.is_dir():
        path = _safetensors_in_directory(path)
    if path.name.endswith(('.safetensors', '.safetensors.index.json')):
        return to_official_names(_read_safetensors(path), path), str(path)
    raw, entry = select_entry(read_torch_file(path), checkpoint_key, path,
                              bare_ok=checkpoint_key == default_key)
    return to_official_names(raw, path), f'{path} [{entry}]' if entry else str(path)


def to_official_names(state_dict: StateDict, path: Path) -> StateDict:
    """Map a foreign state dict (HF transformers names, wrapper prefixes) to official names."""
    bad = [key for key, value in state_dict.items() if not isinstance(value, torch.Tensor)]
    if bad:
        raise CheckpointError(f'{path}: entries that are not tensors: {short_list(bad)}')
    hf_style = any(key.removeprefix('vjepa2.').startswith(_HF_ENCODER_PREFIXES)
                   for key in state_dict)
    return _from_hf_names(state_dict) if hf_style else strip_official_prefixes(state_dict)


def key_problems(state_dict: StateDict, model: nn.Module) -> list[str]:
    """Say how `state_dict` differs from the model's keys, shapes and float dtypes."""
    expected = {name: tensor.shape for name, tensor in model.state_dict().items()}
    missing = sorted(expected.keys() - state_dict.keys(), key=natural_order)
    unexpected = sorted(state_dict.keys() - expected.keys(), key=natural_order)
    shared = sorted(expected.keys() & state_dict.keys(), key=natural_order)
    mismatched = [f'{name}: file {tuple(state_dict[name].shape)} vs model {tuple(expected[name])}'
                  for name in shared if state_dict[name].shape != expected[name]]
    not_float = [f'{name} ({state_dict[name].dtype})'
                 for name in shared if not state_dict[name].is_floating_point()]
    return [f'{label} ({len(items)}): {short_list(items)}' for label, items in (
        ('missing keys', missing), ('unexpected keys', unexpected),
        ('shape mismatches', mismatched), ('non-float weights', not_float)) if items]


def check_fits(state_dict: StateDict, model: nn.Module, model_size: str, path: str) -> None:
    """Raise CheckpointError unless `state_dict` has exactly the model's keys and shapes."""
    problems = key_problems(state_dict, model)
    if not problems:
        return
    raise CheckpointError(
        f'checkpoint {path} does not fit V-JEPA {model.config.model_version} '
        f'model_size={model_size!r}; '
        f'it {guess_model_size(state_dict)}. ' + '; '.join(problems))


def guess_model_size(state_dict: StateDict) -> str:
    """Describe which known encoder version and size a state dict's keys and shapes match."""
    proj = state_dict.get('patch_embed.proj.weight')
    depth = len({key.split('.')[1] for key in state_dict if key.startswith('blocks.')})
    if proj is None:
        return f'has no patch embedding and {depth} blocks, so it is not a V-JEPA 2 encoder'
    # Only 2.1 has per-layer output norms and modality embeddings; only 2 has a final `norm`.
    version = '2.1' if 'norms_block.0.weight' in state_dict else '2'
    width = proj.shape[0]
    for name, cfg in MODEL_VERSIONS[version].items():
        if (cfg.embed_dim, cfg.depth) == (width, depth):
            return (f'looks like model_size={name!r} (width {width}, {depth} blocks) of '
                    f"V-JEPA {version} (model_version='{version}')")
    return (f'looks like V-JEPA {version} but matches none of its sizes (width {width}, {depth} '
            'blocks)')


def resolve_source(source: str | Path) -> Path:
    if is_url(source):
        try:
            return fetch(str(source))
        except DownloadError as error:
            raise CheckpointError(str(error)) from None
    path = Path(source).expanduser()
    if path.exists():
        return path
    if _looks_like_hub_id(source):
        return _download_from_hub(str(source))
    raise CheckpointError(
        f'checkpoint {str(source)!r} does not exist (looked for {path.absolute()}); pass an '
        f'existing file or directory, or a Hugging Face model id such as '
        f'{HF_MODEL_IDS["large"]!r}')


def _looks_like_hub_id(source: str | Path) -> bool:
    """Tell 'org/name' from a relative path such as 'weights/vitl.pt' or './ckpt/model'."""
    return (isinstance(source, str) and bool(_HF_REPO_ID.match(source))
            and not source.endswith(_WEIGHT_FILE_SUFFIXES))


def _download_from_hub(repo_id: str) -> Path:
    try:
        from huggingface_hub import snapshot_download
    except ImportError as exc:
        raise CheckpointError(
            f'checkpoint {repo_id!r} looks like a Hugging Face model id, but huggingface_hub is '
            'not installed: pip install huggingface_hub, or pass a local file') from exc
    try:
        return Path(snapshot_download(repo_id, allow_patterns=['*.safetensors', '*.json']))
    except Exception as exc:  # noqa: B902 - the hub raises many network/offline error types
        raise CheckpointError(
            f'could not fetch {repo_id!r} from the Hugging Face hub '
            f'({type(exc).__name__}: {exc}). Check the id; if this machine is offline, fetch '
            'it on a connected machine with '
            f'`huggingface-cli download {repo_id} --local-dir <dir>` (or download '
            f'https://huggingface.co/{repo_id}/resolve/main/model.safetensors, or an official '
            f'.pt such as {OFFICIAL_URLS["large"]}), copy it here and pass its path') from exc


def _safetensors_in_directory(directory: Path) -> Path:
    for name in ('model.safetensors', 'model.safetensors.index.json'):
        if (directory / name).is_file():
            return directory / name
    raise CheckpointError(
        f'checkpoint directory {directory} holds neither model.safetensors nor '
        'model.safetensors.index.json; pass a Hugging Face snapshot directory or a file')


def _read_safetensors(path: Path) -> StateDict:
    try:
        if path.name.endswith('.index.json'):
            shards = sorted(set(json.loads(path.read_text())['weight_map'].values()))
            merged: StateDict = {}
            for shard in shards:
                merged.update(load_safetensors(path.parent / shard))
            return merged
        return load_safetensors(path)
    except (SafetensorError, OSError, KeyError, ValueError) as exc:
        raise CheckpointError(
            f'could not read {path} as safetensors ({type(exc).__name__}: {exc}); the file may '
            'be truncated (an interrupted download) or not a checkpoint') from exc


def read_torch_file(path: Path) -> object:
    try:
        try:
            # mmap avoids reading the predictor and optimiser state of a training checkpoint.
            return torch.load(path, map_location='cpu', weights_only=True, mmap=True)
        except RuntimeError as exc:
            if 'zipfile' not in str(exc):
                raise
            # A legacy (pre-zip) file cannot be memory-mapped; read it whole.
            return torch.load(path, map_location='cpu', weights_only=True)
    except pickle.UnpicklingError as exc:
        # Keep torch's reason (the rejected global), not its advice to disable the safety check.
        reason = next((line.strip() for line in str(exc).splitlines()
                       if 'Unsupported global' in line), str(exc).splitlines()[0])
        raise CheckpointError(
            f'refusing to load {path}: it holds Python objects, not just tensors, and untrusted '
            f'pickles can run code ({reason})') from exc
    except Exception as exc:  # noqa: B902 - corrupt bytes make the unpickler raise anything
        raise CheckpointError(
            f'could not read {path} as a PyTorch checkpoint ({type(exc).__name__}: {exc}); the '
            'file may be truncated (an interrupted download) or not a checkpoint') from exc


def select_entry(checkpoint: object, checkpoint_key: str, path: Path,
                 bare_ok: bool) -> tuple[StateDict, str | None]:
    """Return the chosen entry of a training checkpoint and its name (None: a bare state dict)."""
    if not isinstance(checkpoint, dict):
        raise CheckpointError(
            f'{path} holds a {type(checkpoint).__name__}, not a dict of weights')
    if checkpoint_key in checkpoint:
        entry = checkpoint[checkpoint_key]
        if not isinstance(entry, dict):
            raise CheckpointError(f'{path}: entry {checkpoint_key!r} is not a dict of weights')
        return entry, checkpoint_key
    bare = checkpoint and all(isinstance(value, torch.Tensor) for value in checkpoint.values())
    # A bare state dict (as saved by model.state_dict()) holds one encoder: the default choice.
    if bare and bare_ok:
        return checkpoint, None
    what = ('is a bare state dict' if bare else
            f'has the top-level keys {short_list(sorted(map(str, checkpoint))) or "(none)"}')
    raise CheckpointError(
        f'{path} has no {checkpoint_key!r} entry: it {what}. Official checkpoints hold '
        '"encoder" and "target_encoder" (V-JEPA 2) or "ema_encoder" and "target_encoder" '
        '(V-JEPA 2.1); choose with checkpoint_key')


def strip_official_prefixes(state_dict: StateDict) -> StateDict:
    cleaned = {}
    for key, value in state_dict.items():
        while key.startswith(_OFFICIAL_PREFIXES):
            key = key.split('.', 1)[1]
        if key not in _IGNORED_KEYS:
            cleaned[key] = value
    return cleaned


def _from_hf_names(state_dict: StateDict) -> StateDict:
    """Map transformers' VJEPA2 names to ours; predictor, pooler and classifier are not ours."""
    converted: StateDict = {}
    qkv_parts: dict[tuple[str, str], dict[str, torch.Tensor]] = {}
    for key, value in state_dict.items():
        key = key.removeprefix('vjepa2.').replace('.attention.attention.', '.attention.')
        if not key.startswith('encoder.'):
            continue
        qkv = _HF_QKV.match(key)
        if qkv:
            layer, part, param = qkv.groups()
            qkv_parts.setdefault((layer, param), {})[part] = value
            continue
        for hf_prefix, prefix in _HF_RENAMES:
            if key.startswith(hf_prefix):
                key = prefix + key.removeprefix(hf_prefix)
                break
        # Keys that match no rename keep their 'encoder.' name, so the strict check reports them.
        converted[key.replace('.attention.', '.attn.')] = value
    for (layer, param), parts in qkv_parts.items():
        if len(parts) == 3:
            converted[f'blocks.{layer}.attn.qkv.{param}'] = torch.cat(
                [parts['query'], parts['key'], parts['value']])
        else:  # an incomplete triple stays unmapped: the strict check reports it
            converted.update({f'encoder.layer.{layer}.attention.{part}.{param}': value
                              for part, value in parts.items()})
    return converted


def natural_order(key: str) -> list:
    """Sort 'blocks.2' before 'blocks.10'."""
    return [(0, int(part), '') if part.isdigit() else (1, 0, part) for part in key.split('.')]


def short_list(items: list[str], limit: int = 6) -> str:
    shown = ', '.join(items[:limit])
    return shown + (f', ... (+{len(items) - limit} more)' if len(items) > limit else '')
