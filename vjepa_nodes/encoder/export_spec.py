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
What an exported encoder file holds, written beside it as a JSON sidecar.

`model.onnx` (and a TensorRT engine built from it, `model.engine`) share the sidecar
`model.json`. A backend refuses a file whose sidecar does not match what the detector would run.
Torch-free: the export tool and every backend read it.
"""

from dataclasses import asdict, dataclass, fields
import hashlib
from importlib import metadata
import json
from pathlib import Path

EXPORT_PRECISIONS = ('fp32', 'fp16')
INPUT_NAME, OUTPUT_NAME = 'clip', 'tokens'
DEFAULT_OPSET = 18  # torch.onnx's dynamo exporter targets it; TensorRT 8.6 and 10 read it
# Export parity (relative error against PyTorch fp32 on the same clip) that vjepa-export accepts.
PARITY_TOLERANCE = {'fp32': 1e-4, 'fp16': 1e-2}


class ExportFileError(ValueError):
    """An exported encoder file that is missing, unreadable or made for other settings."""


@dataclass(frozen=True)
class ExportSpec:
    """The settings an exported encoder was made for, and where its weights came from."""

    model_size: str
    frames: int
    height: int
    width: int
    precision: str  # of the graph's input and output: 'fp32' or 'fp16'
    batch: int = 1
    dynamic_batch: bool = False
    model_version: str = '2'
    weights_source: str = ''
    weights_digest: str = ''  # sha256 of the fp32 weights (onnx_export.weights_digest)
    random_weights: bool = False
    opset: int = DEFAULT_OPSET
    package_version: str = ''

    def __post_init__(self) -> None:
        for spec_field in fields(self):  # a sidecar is a file: check what it gives
            value = getattr(self, spec_field.name)
            if type(value) is not spec_field.type:
                raise ValueError(f'{spec_field.name} must be {spec_field.type.__name__}, got '
                                 f'{value!r}')
        if self.precision not in EXPORT_PRECISIONS:
            raise ValueError(f'export precision must be one of {", ".join(EXPORT_PRECISIONS)}, '
                             f'got {self.precision!r}')

    @property
    def clip_shape(self) -> tuple[int, int, int, int, int]:
        return (self.batch, 3, self.frames, self.height, self.width)

    def accepts_batch(self, batch: int) -> bool:
        return self.dynamic_batch or batch == self.batch

    def clip_problem(self, shape: tuple[int, ...]) -> str:
        """Say why a clip of `shape` does not fit this export ('' if it does)."""
        if tuple(shape[1:]) == self.clip_shape[1:] and self.accepts_batch(shape[0]):
            return ''
        batch = ' (any batch)' if self.dynamic_batch else ''
        return (f'exported for clips of shape {self.clip_shape}{batch}, got {tuple(shape)}: '
                f'export again with --frames {shape[2]} --resolution {shape[3]}x{shape[4]}')

    def cache_key(self) -> str:
        """Name of this spec in the export cache: readable, and unique per field values."""
        digest = hashlib.sha256(json.dumps(asdict(self), sort_keys=True).encode()).hexdigest()
        return (f'{self.model_size}_{self.frames}x{self.height}x{self.width}_{self.precision}_'
                f'{digest[:16]}')


def package_version() -> str:
    """Return the installed vjepa_nodes version ('unknown' when run from a bare checkout)."""
    try:
        return metadata.version('vjepa_nodes')
    except metadata.PackageNotFoundError:
        return 'unknown'


def sidecar_path(path: str | Path) -> Path:
    """Return the sidecar of an exported file: model.onnx and model.engine -> model.json."""
    return Path(path).with_suffix('.json')


def write_sidecar(path: str | Path, spec: ExportSpec, **measured: float) -> Path:
    """Write `spec` (and measured facts such as the parity error) beside `path`."""
    target = sidecar_path(path)
    target.write_text(json.dumps({**asdict(spec), **measured}, indent=2) + '\n')
    return target


def read_sidecar(path: str | Path) -> ExportSpec:
    """Return the spec written beside `path`; raise ExportFileError saying what is wrong."""
    sidecar = sidecar_path(path)
    if not sidecar.is_file():
        raise ExportFileError(
            f'{sidecar} is missing: every exported encoder needs the sidecar vjepa-export '
            f'writes beside it (export again, or keep the .json next to {Path(path).name})')
    try:
        data = json.loads(sidecar.read_text())
        if not isinstance(data, dict):
            raise ValueError(f'expected a JSON object, got {type(data).__name__}')
        known = {spec_field.name for spec_field in fields(ExportSpec)}
        return ExportSpec(**{key: value for key, value in data.items() if key in known})
    except (ValueError, TypeError, OSError) as error:  # JSONDecodeError is a ValueError
        raise ExportFileError(f'{sidecar} is not a vjepa-export sidecar: {error}') from None


def spec_mismatches(found: ExportSpec, expected: ExportSpec, *, check_resolution: bool = True,
                    check_digest: bool = True) -> list[str]:
    """Return what differs between an exported file's spec and what the detector needs."""
    pairs = [('model_version', found.model_version, expected.model_version),
             ('model_size', found.model_size, expected.model_size),
             ('frames', found.frames, expected.frames),
             ('precision', found.precision, expected.precision)]
    if check_resolution:
        pairs.append(('resolution', f'{found.height}x{found.width}',
                      f'{expected.height}x{expected.width}'))
    if check_digest:
        pairs.append(('weights digest', found.weights_digest, expected.weights_digest))
    # Digests are shown shortened: 16 hex digits tell weights apart for a reader.
    problems = [f'{name} is {str(have)[:16]} in the file but the detector needs {str(want)[:16]}'
                for name, have, want in pairs if have != want]
    if not found.accepts_batch(expected.batch):
        problems.append(f'the file takes batches of {found.batch}, the detector sends '
                        f'{expected.batch} (export with --batch {expected.batch} or '
                        '--dynamic-batch)')
    return problems
