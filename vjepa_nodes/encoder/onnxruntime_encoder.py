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

"""Run an exported encoder file (vjepa-export) in ONNX Runtime on the best provider it has."""

import logging
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

import numpy as np
import torch

from vjepa_nodes.device import PRECISIONS
from vjepa_nodes.encoder.export_spec import ExportFileError, ExportSpec, INPUT_NAME

if TYPE_CHECKING:
    import onnxruntime

# Tried in this order, as the installed onnxruntime build offers them.
PROVIDER_ORDER = ('TensorrtExecutionProvider', 'CUDAExecutionProvider',
                  'CoreMLExecutionProvider', 'CPUExecutionProvider')
_logger = logging.getLogger('vjepa_nodes')


def import_onnxruntime() -> ModuleType:
    """Return the onnxruntime module, or raise ImportError saying what to install."""
    try:
        import onnxruntime
    except ImportError:
        raise ImportError(
            "backend 'onnxruntime' needs onnxruntime: pip install 'vjepa_nodes[onnx]' (or "
            "onnxruntime-gpu; on a Jetson, NVIDIA's build: see docs/DEPLOY_JETSON.md)") from None
    return onnxruntime


def available_providers() -> list[str]:
    """Return the providers of PROVIDER_ORDER this onnxruntime offers, best first."""
    offered = import_onnxruntime().get_available_providers()
    return [name for name in PROVIDER_ORDER if name in offered]


def session_options() -> 'onnxruntime.SessionOptions':
    """
    Session settings for this model, measured on the 2-core dev CPU (docs/PERFORMANCE.md).

    All graph optimisations (Gemm and LayerNorm fusions: 7 % over basic); the default thread
    pool (one per core: 1.8x one thread); idle threads sleep instead of spinning, which costs
    nothing measurable and leaves the cores to the other nodes. onnxruntime's transformer
    optimizer made it 1-7 % slower (its fusions block the Gemm fusion) and is not used.
    """
    onnxruntime = import_onnxruntime()
    options = onnxruntime.SessionOptions()
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.add_session_config_entry('session.intra_op.allow_spinning', '0')
    return options


class OnnxRuntimeEncoder:
    """
    Call an exported encoder like the PyTorch one: clip tensor (B, 3, T, H, W) -> tokens.

    Refuses clips the file was not exported for, with a message naming the difference.
    """

    def __init__(self, path: str | Path, spec: ExportSpec,
                 providers: list[str] | None = None) -> None:
        onnxruntime = import_onnxruntime()
        self.path, self.spec = Path(path), spec
        if not self.path.is_file():
            raise ExportFileError(f'ONNX file {self.path} does not exist')
        wanted = providers or available_providers()
        try:
            self.session = onnxruntime.InferenceSession(
                str(self.path), session_options(), providers=wanted)
        except Exception as error:  # noqa: B902 - onnxruntime raises its own untyped errors
            reason = (str(error).splitlines() or [type(error).__name__])[0][:300]
            raise ExportFileError(f'onnxruntime cannot load {self.path}: {reason}') from None
        self.provider = self.session.get_providers()[0]
        self.dtype = PRECISIONS[spec.precision]
        graph_input = self.session.get_inputs()[0]
        wanted_type = {'fp32': 'tensor(float)', 'fp16': 'tensor(float16)'}[spec.precision]
        fixed = [side if isinstance(side, int) else None for side in graph_input.shape]
        if (graph_input.name, graph_input.type) != (INPUT_NAME, wanted_type) or fixed[1:] != list(
                spec.clip_shape[1:]):
            raise ExportFileError(
                f'{self.path} takes {graph_input.name!r} {graph_input.type} of shape '
                f'{graph_input.shape}, but its sidecar says {INPUT_NAME!r} {spec.precision} '
                f'{spec.clip_shape}: the file and its sidecar do not belong together')
        _logger.info(f'onnxruntime runs {self.path.name} on {self.provider} '
                     f'(offered: {", ".join(wanted)})')

    def __call__(self, clip: torch.Tensor) -> torch.Tensor:
        """Encode a normalised clip in the file's precision; tokens come back on its device."""
        problem = self.spec.clip_problem(clip.shape)
        if problem:
            raise ValueError(f'{self.path.name} was {problem}')
        if clip.dtype != self.dtype:
            raise ValueError(f'{self.path.name} takes {self.spec.precision} clips, got '
                             f'{clip.dtype}')
        return torch.from_numpy(self.run_numpy(clip.detach().cpu().numpy())).to(clip.device)

    def run_numpy(self, pixels: np.ndarray) -> np.ndarray:
        """Run the session on a numpy clip as it is (no checks): tokens as numpy."""
        return self.session.run(None, {INPUT_NAME: np.ascontiguousarray(pixels)})[0]
