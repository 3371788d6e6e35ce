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
Export the encoder to ONNX for one clip shape, and check the file against PyTorch.

The graph takes `clip` (B, 3, T, H, W), normalised like the detector's preprocessing, in the
exported precision, and returns `tokens` (B, N, D). The RoPE tables of the fixed (T, H, W) grid
are constants of the graph; only the batch may be dynamic. Needs the `onnx` extra (onnx,
onnxscript, onnxruntime).
"""

from contextlib import contextmanager
import copy
import hashlib
import logging
from pathlib import Path
import threading
import time
from typing import Callable, Iterator

import numpy as np
import torch
from torch import nn

from vjepa_nodes.device import PRECISIONS
from vjepa_nodes.encoder.build import RANDOM_WEIGHTS_SOURCE
from vjepa_nodes.encoder.export_spec import (
    DEFAULT_OPSET, ExportSpec, INPUT_NAME, OUTPUT_NAME, package_version, PARITY_TOLERANCE,
    sidecar_path, write_sidecar)
from vjepa_nodes.encoder.vit import clip_token_grid, VJepa2Encoder

# Weights beyond this go to a `.onnx.data` file beside the graph: protobuf caps a file at
# 2 GiB, and a graph without its weights inline loads without a second copy of them.
EXTERNAL_DATA_BYTES = 256 << 20
TICK_SECONDS = 10.0  # how often a long step says it is still running

_logger = logging.getLogger('vjepa_nodes')
Report = Callable[[str], None]


def weights_digest(encoder: VJepa2Encoder) -> str:
    """Return the sha256 of the encoder's weights as fp32, whatever file format they came from."""
    digest = hashlib.sha256()
    for name, tensor in sorted(encoder.state_dict().items()):
        data = tensor.detach().to('cpu', torch.float32).contiguous()
        digest.update(f'{name}:{tuple(data.shape)};'.encode())
        digest.update(data.numpy().tobytes())
    return digest.hexdigest()


def export_spec(encoder: VJepa2Encoder, model_size: str, frames: int, height: int, width: int,
                precision: str, *, batch: int = 1, dynamic_batch: bool = False,
                opset: int = DEFAULT_OPSET) -> ExportSpec:
    """Return the spec of exporting `encoder` for one clip shape, with its weights' digest."""
    clip_token_grid(encoder.config, (batch, 3, frames, height, width))  # refuse a bad shape now
    source = str(encoder.weights_source)
    return ExportSpec(
        model_size=model_size, frames=frames, height=height, width=width, precision=precision,
        batch=batch, dynamic_batch=dynamic_batch, model_version=encoder.config.model_version,
        weights_source=source,
        weights_digest=weights_digest(encoder),
        random_weights=source == RANDOM_WEIGHTS_SOURCE, opset=opset,
        package_version=package_version())


class ExportGraph(nn.Module):
    """The encoder for one token grid, its RoPE tables held as constants."""

    def __init__(self, encoder: VJepa2Encoder, grid: tuple[int, int, int]) -> None:
        super().__init__()
        self.encoder = encoder
        cos, sin = encoder.rope(grid, encoder.patch_embed.proj.weight.device)
        # Tables stay fp32 in every precision: RoPE angles of far positions need the mantissa.
        self.register_buffer('rope_cos', cos, persistent=False)
        self.register_buffer('rope_sin', sin, persistent=False)

    def forward(self, clip: torch.Tensor) -> torch.Tensor:
        return self.encoder.encode(clip, (self.rope_cos, self.rope_sin))


@contextmanager
def timed_step(label: str, report: Report) -> Iterator[None]:
    """Report `label`, then every TICK_SECONDS that it still runs, then its duration."""
    start, done = time.monotonic(), threading.Event()

    def tick() -> None:
        while not done.wait(TICK_SECONDS):
            report(f'{label}: {time.monotonic() - start:.0f} s so far')
    report(f'{label} ...')
    ticker = threading.Thread(target=tick, daemon=True)
    ticker.start()
    try:
        yield
    finally:
        done.set()
        ticker.join()
    report(f'{label}: done in {time.monotonic() - start:.1f} s')


def export_onnx(encoder: VJepa2Encoder, spec: ExportSpec, path: str | Path,
                report: Report = _logger.info) -> Path:
    """
    Write `encoder` as ONNX for `spec` to `path`; return the path.

    `encoder` is in fp32 and stays unchanged; an fp16 export converts a copy. The sidecar is
    left to the caller, to write once the file passed check_parity: an old sidecar at `path`
    is removed first, so no backend loads a file that was not checked.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    sidecar_path(path).unlink(missing_ok=True)
    model = copy.deepcopy(encoder) if spec.precision != 'fp32' else encoder
    model = model.to(PRECISIONS[spec.precision])
    grid = clip_token_grid(encoder.config, spec.clip_shape)
    # torch.export fixes a dimension of size 1: a dynamic batch is traced with two clips.
    example = torch.zeros((2 if spec.dynamic_batch else spec.batch, *spec.clip_shape[1:]),
                          dtype=PRECISIONS[spec.precision])
    dynamic = {INPUT_NAME: {0: torch.export.Dim('batch', min=1, max=1024)}} if (
        spec.dynamic_batch) else None
    weight_bytes = sum(t.numel() * t.element_size() for t in model.state_dict().values())
    with timed_step(f'exporting {spec.model_size} for {spec.frames}x{spec.height}x{spec.width} '
                    f'clips in {spec.precision} to {path}', report), torch.no_grad():
        torch.onnx.export(
            ExportGraph(model, grid).eval(), (example,), str(path), dynamo=True,
            input_names=[INPUT_NAME], output_names=[OUTPUT_NAME], opset_version=spec.opset,
            dynamic_shapes=dynamic, external_data=weight_bytes > EXTERNAL_DATA_BYTES,
            verbose=False)
    return path


def check_and_seal(encoder: VJepa2Encoder, path: str | Path, spec: ExportSpec) -> float:
    """
    Check an exported file against PyTorch fp32; write its sidecar only if within tolerance.

    On the CPU provider: a GPU provider's rounding is not the export's. Returns the relative
    error (check `<= PARITY_TOLERANCE[spec.precision]`: without a sidecar no backend loads it).
    """
    from vjepa_nodes.encoder.onnxruntime_encoder import OnnxRuntimeEncoder  # the onnx extra
    run = OnnxRuntimeEncoder(path, spec, providers=['CPUExecutionProvider'])
    error = check_parity(encoder, run.run_numpy, spec)
    del run
    if error <= PARITY_TOLERANCE[spec.precision]:
        write_sidecar(path, spec, parity_rel_error=error)
    return error


def check_parity(encoder: VJepa2Encoder, run_file: Callable[[np.ndarray], np.ndarray],
                 spec: ExportSpec, seed: int = 0) -> float:
    """
    Return ||file - PyTorch fp32|| / ||PyTorch fp32|| on a random clip of the spec's shape.

    `run_file` runs the exported file on a numpy clip in the spec's precision; `encoder` is
    the fp32 encoder it was exported from. A non-finite output counts as infinite error.
    """
    clip = torch.randn(spec.clip_shape, generator=torch.Generator().manual_seed(seed))
    typed = clip.to(PRECISIONS[spec.precision])
    with torch.inference_mode():
        expected = encoder(typed.float())
    return relative_error(torch.from_numpy(np.asarray(run_file(typed.numpy()))), expected)


def relative_error(output: torch.Tensor, reference: torch.Tensor) -> float:
    """||output - reference|| / ||reference|| in fp32; inf for another shape or non-finite."""
    output, reference = output.float(), reference.float()
    if output.shape != reference.shape or not torch.isfinite(output).all():
        return float('inf')
    return ((output - reference).norm() / reference.norm()).item()


def trtexec_command(path: str | Path, spec: ExportSpec) -> str:
    """Return the trtexec command that builds a fixed-shape fp16 TensorRT engine on a Jetson."""
    path = Path(path)
    shape = 'x'.join(str(side) for side in spec.clip_shape)
    engine = path.with_suffix('.engine')
    return (f'/usr/src/tensorrt/bin/trtexec --onnx={path} --saveEngine={engine} --fp16 '
            f'--shapes={INPUT_NAME}:{shape}')
