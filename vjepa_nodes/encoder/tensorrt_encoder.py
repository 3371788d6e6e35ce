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
Run a serialized TensorRT engine (built with vjepa-export's trtexec command) on CUDA tensors.

Uses the name-based tensor API of TensorRT 8.5 and newer (JetPack 5.1 and 6). Input and output
live in PyTorch CUDA memory, so clips never leave the GPU. Not run in this project's CI (no
NVIDIA GPU there): everything around it is tested, this class is kept small and reviewed.
"""

from pathlib import Path
from types import ModuleType

import torch

from vjepa_nodes.device import PRECISIONS
from vjepa_nodes.encoder.export_spec import ExportFileError, ExportSpec, INPUT_NAME, OUTPUT_NAME


def import_tensorrt() -> ModuleType:
    """Return the tensorrt module, or raise ImportError saying what to install."""
    try:
        import tensorrt
    except ImportError:
        raise ImportError(
            "backend 'tensorrt' needs NVIDIA's tensorrt Python package: on a Jetson it comes "
            'with JetPack (apt install python3-libnvinfer; in a venv use '
            '--system-site-packages), elsewhere pip install tensorrt; see '
            'docs/DEPLOY_JETSON.md') from None
    return tensorrt


class TensorRTEncoder:
    """Call an engine like the PyTorch encoder: clip (B, 3, T, H, W) on CUDA -> tokens."""

    def __init__(self, path: str | Path, spec: ExportSpec, device: torch.device) -> None:
        if device.type != 'cuda':
            raise ValueError(f"backend 'tensorrt' runs on a CUDA device, not {device}: set "
                             'device to cuda or auto on a machine with an NVIDIA GPU')
        tensorrt = import_tensorrt()
        self.path, self.spec, self.device = Path(path), spec, device
        if not self.path.is_file():
            raise ExportFileError(f'TensorRT engine {self.path} does not exist')
        # Kept for the engine's lifetime: the engine refers to both.
        self._logger = tensorrt.Logger(tensorrt.Logger.WARNING)
        self._runtime = tensorrt.Runtime(self._logger)
        with torch.cuda.device(device):
            engine = self._runtime.deserialize_cuda_engine(self.path.read_bytes())
            if engine is None:
                raise ExportFileError(
                    f'{self.path} is not a TensorRT engine this TensorRT '
                    f'{tensorrt.__version__} and GPU can load (engines are specific to both: '
                    'build it on this machine with the trtexec command vjepa-export printed)')
            self.engine, self.context = engine, engine.create_execution_context()
        names = {engine.get_tensor_name(index) for index in range(engine.num_io_tensors)}
        if names != {INPUT_NAME, OUTPUT_NAME}:
            raise ExportFileError(f'{self.path} has tensors {sorted(names)}, expected '
                                  f'{INPUT_NAME!r} and {OUTPUT_NAME!r}: not a vjepa-export model')
        self.dtype = PRECISIONS[spec.precision]
        input_dtype, self.output_dtype = (
            torch.from_numpy(tensorrt.nptype(engine.get_tensor_dtype(name))(0).reshape(1)).dtype
            for name in (INPUT_NAME, OUTPUT_NAME))
        # -1 marks a dynamic side (a --dynamic-batch export).
        engine_shape = tuple(engine.get_tensor_shape(INPUT_NAME))
        if input_dtype != self.dtype or any(side not in (-1, wanted) for side, wanted in zip(
                engine_shape, spec.clip_shape)) or len(engine_shape) != len(spec.clip_shape):
            raise ExportFileError(
                f'{self.path} takes {input_dtype} clips of shape {engine_shape}, but its sidecar '
                f'says {spec.precision} {spec.clip_shape}: the engine and the sidecar do not '
                'belong together')

    def __call__(self, clip: torch.Tensor) -> torch.Tensor:
        """Encode a clip of the engine's shape; returns tokens on the engine's GPU."""
        problem = self.spec.clip_problem(clip.shape)
        if problem:
            raise ValueError(f'{self.path.name} was {problem}')
        shape = tuple(clip.shape)
        clip = clip.to(self.device, self.dtype).contiguous()
        with torch.cuda.device(self.device):
            if not self.context.set_input_shape(INPUT_NAME, shape):
                raise ValueError(f'{self.path.name} does not take clips of shape {shape}')
            tokens = torch.empty(tuple(self.context.get_tensor_shape(OUTPUT_NAME)),
                                 dtype=self.output_dtype, device=self.device)
            self.context.set_tensor_address(INPUT_NAME, clip.data_ptr())
            self.context.set_tensor_address(OUTPUT_NAME, tokens.data_ptr())
            stream = torch.cuda.current_stream(self.device)
            if not self.context.execute_async_v3(stream.cuda_stream):
                raise RuntimeError(f'TensorRT failed to run {self.path.name}')
        return tokens  # ordered on the current stream, like any PyTorch result
