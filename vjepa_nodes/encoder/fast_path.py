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
Run the encoder as fast as its device allows while computing the plain module's function.

A fast path combines two independent tricks:
- compile: torch.compile (Inductor) fuses the norms, RoPE, GELU and residual adds around the
  matrix products. It compiles once per clip shape on the first clip of that shape; torch caches
  the result on disk (TORCHINDUCTOR_CACHE_DIR, by default under /tmp), so later runs start faster.
- cuda_graph: the whole forward is captured once per clip shape and then replayed with a single
  launch, which removes the per-kernel launch cost (hundreds of kernels per clip). CUDA only.

'auto' uses both on CUDA and neither elsewhere: on the CPU the matrix products dominate and the
compile time does not pay back (docs/PERFORMANCE.md), and on MPS there are no CUDA graphs and
torch.compile is experimental.
"""

from dataclasses import dataclass
import logging
import threading
import time
from typing import Callable

import torch

from vjepa_nodes.encoder.config import FAST_PATHS
from vjepa_nodes.encoder.layers import RopeTables
from vjepa_nodes.encoder.vit import VJepa2Encoder

COMPILE_MODES = ('default', 'max-autotune-no-cudagraphs')

_logger = logging.getLogger('vjepa_nodes')
Encode = Callable[[torch.Tensor, RopeTables], torch.Tensor]


@dataclass(frozen=True)
class FastPath:
    """Which tricks run; `name` is the FAST_PATHS entry that selects exactly these."""

    compile_model: bool
    cuda_graph: bool

    @property
    def name(self) -> str:
        parts = [part for part, used in (('compile', self.compile_model),
                                         ('cuda_graph', self.cuda_graph)) if used]
        return '+'.join(parts) or 'none'


def resolve_fast_path(choice: str, device: torch.device) -> FastPath:
    """Return the fast path for `choice` on `device`; raise ValueError if it cannot run there."""
    if choice not in FAST_PATHS:
        raise ValueError(f'unknown fast_path {choice!r}; choose one of {", ".join(FAST_PATHS)}')
    if choice == 'auto':
        choice = 'compile+cuda_graph' if device.type == 'cuda' else 'none'
    fast_path = FastPath(compile_model='compile' in choice,
                         cuda_graph='cuda_graph' in choice)
    if fast_path.cuda_graph and device.type != 'cuda':
        raise ValueError(f'fast_path {choice!r} needs a CUDA device, but the model is on {device}')
    return fast_path


class CapturedForward:
    """
    One CUDA graph of `function` for fixed input shapes, replayed on new inputs.

    `function` takes the inputs and returns one tensor; what else it reads (RoPE tables,
    weights) must stay at its address, which holding `function` ensures for its closure.
    """

    def __init__(self, function: Callable[..., torch.Tensor], *inputs: torch.Tensor,
                 warmup_runs: int = 2) -> None:
        self.device = inputs[0].device
        self.inputs = tuple(tensor.clone() for tensor in inputs)
        self.function = function
        with torch.cuda.device(self.device):  # capture on the model's GPU, not the current one
            side = torch.cuda.Stream()
            side.wait_stream(torch.cuda.current_stream())
            # Compilation, autotuning and library handles happen in the warm-up, not in capture.
            with torch.cuda.stream(side):
                for _ in range(warmup_runs):
                    function(*self.inputs)
            torch.cuda.current_stream().wait_stream(side)
            self.graph = torch.cuda.CUDAGraph()
            # thread_local: the image callback thread may allocate pinned host memory meanwhile.
            with torch.cuda.graph(self.graph, capture_error_mode='thread_local'):
                self.output = function(*self.inputs)

    def __call__(self, *inputs: torch.Tensor) -> torch.Tensor:
        with torch.cuda.device(self.device):
            for static, given in zip(self.inputs, inputs):
                static.copy_(given)
            self.graph.replay()
            return self.output.clone()  # the next replay overwrites self.output


class EncoderRunner:
    """
    Call an encoder on clips through a fast path: same inputs, outputs and errors as the module.

    Safe to call from several threads (one clip at a time). `setup_seconds` records, per clip
    shape, the time of the first call: compilation, warm-up and graph capture.
    """

    def __init__(self, encoder: VJepa2Encoder, fast_path: str = 'auto',
                 compile_mode: str = COMPILE_MODES[0]) -> None:
        if compile_mode not in COMPILE_MODES:
            raise ValueError(f'unknown compile_mode {compile_mode!r}; '
                             f'choose one of {", ".join(COMPILE_MODES)}')
        weight = encoder.patch_embed.proj.weight
        self.encoder, self.device, self.dtype = encoder, weight.device, weight.dtype
        self.fast_path = resolve_fast_path(fast_path, self.device)
        self.compile_mode = compile_mode
        self.setup_seconds: dict[tuple[int, ...], float] = {}
        self._encode: Encode = (
            torch.compile(encoder.encode, dynamic=False, mode=compile_mode)
            if self.fast_path.compile_model else encoder.encode)
        self._graphs: dict[tuple[int, ...], CapturedForward] = {}
        self._lock = threading.Lock()

    def __call__(self, clip: torch.Tensor) -> torch.Tensor:
        """Encode a normalised float clip (B, C, T, H, W) into tokens (B, N, D)."""
        shape = tuple(clip.shape)
        with self._lock, torch.inference_mode():
            clip, rope = self.encoder.prepare(clip.to(self.device))
            if shape in self.setup_seconds:
                return self._graphs[shape](clip) if self.fast_path.cuda_graph else self._encode(
                    clip, rope)
            return self._first_call(clip, rope, shape)

    def _first_call(self, clip: torch.Tensor, rope: RopeTables,
                    shape: tuple[int, ...]) -> torch.Tensor:
        _logger.info(f'preparing the {self.fast_path.name} fast path for clips of shape {shape}'
                     + (' (compiling: a minute or more the first time)'
                        if self.fast_path.compile_model else ''))
        start = time.perf_counter()
        tokens = (self._compiled_or_plain(clip, rope) if self.fast_path.compile_model
                  else self._encode(clip, rope))
        if self.fast_path.cuda_graph:
            encode = self._encode
            self._graphs[shape] = CapturedForward(lambda pixels: encode(pixels, rope), clip)
            tokens = self._graphs[shape](clip)
        self.setup_seconds[shape] = time.perf_counter() - start
        _logger.info(f'{self.fast_path.name} fast path ready for {shape} in '
                     f'{self.setup_seconds[shape]:.1f} s')
        return tokens

    def _compiled_or_plain(self, clip: torch.Tensor, rope: RopeTables) -> torch.Tensor:
        """Run the compiled encoder once (this compiles it); without a compiler, go plain."""
        try:
            return self._encode(clip, rope)
        except Exception as error:  # noqa: B902 - compiler errors have no common base class
            _logger.error(f'torch.compile failed ({type(error).__name__}: {error}); '
                          'continuing without compilation (same results, slower)')
        self.fast_path = FastPath(compile_model=False, cuda_graph=self.fast_path.cuda_graph)
        self._encode = self.encoder.encode  # graphs already captured from compiled code stay
        return self._encode(clip, rope)
