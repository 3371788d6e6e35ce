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

"""Choose the compute device and precision: MPS, then CUDA, then CPU; the policy is pure."""

from dataclasses import dataclass
import logging

import torch

from vjepa_nodes.encoder.config import PRECISION_CHOICES

PRECISIONS: dict[str, torch.dtype] = {
    'fp32': torch.float32, 'fp16': torch.float16, 'bf16': torch.bfloat16}
DEVICE_CHOICES = ('auto', 'mps', 'cuda', 'cpu')  # 'cuda:N' picks a GPU by index

_logger = logging.getLogger('vjepa_nodes')


class DeviceUnavailableError(RuntimeError):
    """An explicitly requested device or precision does not exist on this machine."""


@dataclass(frozen=True)
class Availability:
    """What this machine offers; tests inject their own instead of probing."""

    mps: bool
    cuda_devices: int
    cuda_bf16: bool  # every visible GPU computes bf16 natively

    @classmethod
    def probe(cls) -> 'Availability':
        gpus = torch.cuda.device_count() if torch.cuda.is_available() else 0
        # Native bf16 needs compute capability 8.0 (Ampere, Jetson Orin) or newer; older GPUs
        # only emulate it slowly, which torch.cuda.is_bf16_supported() may still report.
        return cls(
            mps=torch.backends.mps.is_available(),
            cuda_devices=gpus,
            cuda_bf16=gpus > 0 and all(
                torch.cuda.get_device_capability(index)[0] >= 8 for index in range(gpus)))


def select_device(preference: str = 'auto',
                  availability: Availability | None = None) -> torch.device:
    """
    Return the device for `preference` ('auto', 'mps', 'cuda', 'cuda:N' or 'cpu').

    'auto' picks MPS, then CUDA, then CPU. An explicit device that is missing raises
    DeviceUnavailableError rather than silently running somewhere else.
    """
    available = availability or Availability.probe()
    kind, _, index = preference.partition(':')
    if kind not in DEVICE_CHOICES or (index and (kind != 'cuda' or not index.isdigit())):
        raise ValueError(
            f'unknown device {preference!r}; choose one of {", ".join(DEVICE_CHOICES)} or cuda:N')
    if kind == 'auto':
        if available.mps:
            return torch.device('mps')
        return torch.device('cuda', 0) if available.cuda_devices else torch.device('cpu')
    if kind == 'mps' and not available.mps:
        raise DeviceUnavailableError(
            "device 'mps' was requested but Apple MPS is not available on this machine "
            '(needs macOS on Apple silicon and a PyTorch build with MPS); use auto or cpu')
    if kind == 'cuda':
        gpu = int(index or 0)
        if gpu >= available.cuda_devices:
            raise DeviceUnavailableError(
                f'device {preference!r} was requested but this machine has '
                f'{available.cuda_devices} usable CUDA GPU(s) (torch {torch.__version__}, '
                f'CUDA build: {torch.version.cuda or "none"}); use auto or cpu')
        return torch.device('cuda', gpu)
    return torch.device(kind)


def select_precision(device: torch.device, preference: str = 'auto',
                     availability: Availability | None = None) -> torch.dtype:
    """
    Return the compute dtype for `device`.

    'auto' is fp16 on MPS, bf16 on CUDA where supported (else fp16) and fp32 on the CPU.
    """
    if preference not in PRECISION_CHOICES:
        raise ValueError(
            f'unknown precision {preference!r}; choose one of {", ".join(PRECISION_CHOICES)}')
    cuda_bf16 = device.type == 'cuda' and (availability or Availability.probe()).cuda_bf16
    if preference == 'auto':
        if device.type == 'mps':
            return torch.float16
        if device.type == 'cuda':
            return torch.bfloat16 if cuda_bf16 else torch.float16
        return torch.float32
    if preference == 'bf16' and device.type == 'cuda' and not cuda_bf16:
        raise DeviceUnavailableError(
            f'precision bf16 was requested but {device} does not support bfloat16; '
            'use fp16 or auto')
    return PRECISIONS[preference]


def resolve_device_and_precision(device: str = 'auto', precision: str = 'auto',
                                 availability: Availability | None = None,
                                 ) -> tuple[torch.device, torch.dtype]:
    """Select both, probing the machine once, and log the choice."""
    available = availability or Availability.probe()
    chosen_device = select_device(device, available)
    chosen_dtype = select_precision(chosen_device, precision, available)
    _logger.info(f'compute on {chosen_device} in {precision_name(chosen_dtype)} '
                 f'(requested device={device}, precision={precision})')
    return chosen_device, chosen_dtype


def synchronize(device: torch.device) -> None:
    """Wait for the device's queued work (CUDA and MPS run behind the host)."""
    if device.type == 'cuda':
        torch.cuda.synchronize(device)
    elif device.type == 'mps':
        torch.mps.synchronize()


def precision_name(dtype: torch.dtype) -> str:
    """Short name ('fp32', 'fp16', 'bf16') of a compute dtype."""
    return next(name for name, value in PRECISIONS.items() if value == dtype)
