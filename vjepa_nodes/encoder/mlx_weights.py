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
PyTorch encoder weights converted for MLX once, and cached as safetensors.

A cache entry is one `encoder.safetensors` in a directory named by what it holds (model,
version, precision, weights digest); the same facts are in the file's safetensors metadata and
are checked on every load, with the tensors' names and shapes. An entry that cannot be read or
does not match is not used: the caller converts again. The caller writes an entry only after
the converted encoder matched PyTorch (mlx_backend), and records that error in it.
"""

from dataclasses import asdict, dataclass, fields
import hashlib
import json
import os
from pathlib import Path
import tempfile

from vjepa_nodes.encoder.cache_dirs import STAGING_PREFIX
from vjepa_nodes.encoder.config import EncoderConfig
from vjepa_nodes.encoder.export_spec import ExportFileError, package_version
from vjepa_nodes.encoder.mlx_vit import MLX_DTYPES, MlxVJepaEncoder, mx, TOKENIZERS
from vjepa_nodes.encoder.vit import VJepa2Encoder

WEIGHTS_FILE = 'encoder.safetensors'
CACHE_FORMAT = 'vjepa_nodes-mlx-1'  # the stored layout: bump it when that changes


@dataclass(frozen=True)
class MlxWeightsSpec:
    """What a cached MLX weights file holds; its key in the cache and its metadata."""

    model_size: str
    model_version: str
    precision: str  # 'fp32', 'fp16' or 'bf16'
    weights_digest: str  # sha256 of the fp32 PyTorch weights (onnx_export.weights_digest)
    weights_source: str = ''
    random_weights: bool = False
    package_version: str = ''
    layout: str = CACHE_FORMAT

    def cache_key(self) -> str:
        """Directory name in the cache: readable, and unique per what the weights are."""
        what = json.dumps([self.model_size, self.model_version, self.precision,
                           self.weights_digest, self.layout])
        return (f'{self.model_version}_{self.model_size}_{self.precision}_'
                f'{hashlib.sha256(what.encode()).hexdigest()[:16]}')

    def metadata(self, **measured: float) -> dict[str, str]:
        """Return the spec (and measured facts such as the parity error) as safetensors text."""
        return {key: json.dumps(value) for key, value in {**asdict(self), **measured}.items()}

    def mismatches(self, metadata: dict[str, str]) -> list[str]:
        """Say how a file's metadata differs from this spec (package_version may differ)."""
        problems = []
        for spec_field in fields(self):
            if spec_field.name in ('package_version', 'weights_source'):
                continue
            want = getattr(self, spec_field.name)
            try:
                have = json.loads(metadata[spec_field.name])
            except (KeyError, ValueError):
                have = None
            if have != want:
                problems.append(f'{spec_field.name} is {str(have)[:16]} in the file but the '
                                f'detector needs {str(want)[:16]}')
        return problems


def weights_spec(encoder: VJepa2Encoder, model_size: str, precision: str,
                 digest: str, random_weights: bool) -> MlxWeightsSpec:
    """Return the spec of converting `encoder` (whose weights have `digest`) to `precision`."""
    if precision not in MLX_DTYPES:
        raise ValueError(f'MLX runs {", ".join(MLX_DTYPES)}, not {precision!r}')
    return MlxWeightsSpec(model_size, encoder.config.model_version, precision, digest,
                          str(encoder.weights_source), random_weights, package_version())


def convert_weights(encoder: VJepa2Encoder, precision: str) -> dict[str, mx.array]:
    """Return the encoder's state dict as MLX arrays in `precision`, tokenizers flattened."""
    dtype = MLX_DTYPES[precision]
    state = {}
    for name, tensor in encoder.state_dict().items():
        array = tensor.detach().to('cpu').float().numpy()
        if name.split('.')[0] in TOKENIZERS and name.endswith('proj.weight'):
            array = array.reshape(array.shape[0], -1)  # (D, C, t, p, p) -> (D, C t p p)
        state[name] = mx.array(array).astype(dtype)
        # One tensor at a time: lazily, every fp32 copy would live until the end (ViT-g: 4 GB).
        mx.eval(state[name])
    return state


def mlx_encoder(encoder_config: EncoderConfig, state: dict[str, mx.array]) -> MlxVJepaEncoder:
    """Return the MLX encoder with `state` loaded strictly (names and shapes), evaluated."""
    model = MlxVJepaEncoder(encoder_config)
    model.load_weights(list(state.items()), strict=True)
    mx.eval(model.parameters())
    return model.eval()


def save_weights(path: Path, state: dict[str, mx.array], spec: MlxWeightsSpec,
                 **measured: float) -> Path:
    """
    Write `state` to `path` in one rename (no half-written file), readable by every user.

    It is staged in the cache directory, `path`'s grandparent, where cache_dirs'
    remove_stale_staging finds what a killed process leaves.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, staging = tempfile.mkstemp(prefix=STAGING_PREFIX, suffix='.safetensors',
                                       dir=path.parent.parent)
    os.close(handle)
    try:
        mx.save_safetensors(staging, state, metadata=spec.metadata(**measured))
        os.chmod(staging, 0o644)  # mkstemp makes it private; a shared cache is read by all
        os.replace(staging, path)
    finally:
        Path(staging).unlink(missing_ok=True)
    return path


def load_weights(path: Path, spec: MlxWeightsSpec,
                 encoder_config: EncoderConfig) -> MlxVJepaEncoder:
    """Load a cached file; raise ExportFileError saying why it cannot be used."""
    try:
        state, metadata = mx.load(str(path), return_metadata=True)
    except (RuntimeError, ValueError, OSError) as error:
        raise ExportFileError(f'{path} cannot be read ({error})') from None
    problems = spec.mismatches(metadata)
    if problems:
        raise ExportFileError(f'{path} holds other weights: ' + '; '.join(problems))
    try:
        return mlx_encoder(encoder_config, state)
    except (RuntimeError, ValueError) as error:
        raise ExportFileError(f'{path} does not fit the encoder ({error})') from None
