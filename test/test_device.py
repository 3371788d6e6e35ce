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

"""Device and precision policy, with the machine's availability injected."""

import logging

import pytest
import torch

from vjepa_nodes import (
    Availability, DeviceUnavailableError, resolve_device_and_precision, select_device,
    select_precision)
from vjepa_nodes.backend_choice import BackendChoice, choose_backend, mlx_version, Platform

CPU_ONLY = Availability(mps=False, cuda_devices=0, cuda_bf16=False)
MAC = Availability(mps=True, cuda_devices=0, cuda_bf16=False)
JETSON = Availability(mps=False, cuda_devices=1, cuda_bf16=True)
OLD_GPUS = Availability(mps=False, cuda_devices=2, cuda_bf16=False)
EVERYTHING = Availability(mps=True, cuda_devices=1, cuda_bf16=True)


@pytest.mark.parametrize(('available', 'expected'), [
    (EVERYTHING, 'mps'), (MAC, 'mps'), (JETSON, 'cuda:0'), (CPU_ONLY, 'cpu')])
def test_auto_prefers_mps_then_cuda_then_cpu(available, expected):
    assert select_device('auto', available) == torch.device(expected)


@pytest.mark.parametrize(('preference', 'available', 'expected'), [
    ('cpu', EVERYTHING, 'cpu'), ('cuda', EVERYTHING, 'cuda:0'), ('cuda:1', OLD_GPUS, 'cuda:1'),
    ('mps', MAC, 'mps')])
def test_explicit_device_is_honoured(preference, available, expected):
    assert select_device(preference, available) == torch.device(expected)


@pytest.mark.parametrize(('preference', 'available', 'reason'), [
    ('cuda', CPU_ONLY, "device 'cuda' was requested but this machine has 0 usable CUDA GPU(s)"),
    ('cuda:2', OLD_GPUS, "device 'cuda:2' was requested but this machine has 2 usable"),
    ('mps', JETSON, "device 'mps' was requested but Apple MPS is not available"),
])
def test_missing_device_is_an_error_not_a_fallback(preference, available, reason):
    with pytest.raises(DeviceUnavailableError) as error:
        select_device(preference, available)
    assert reason in str(error.value)


@pytest.mark.parametrize('preference', ['gpu', 'cuda:x', 'cpu:0', 'mps:1', ''])
def test_unknown_device_names_the_choices(preference):
    with pytest.raises(ValueError, match='choose one of auto, mps, cuda, cpu or cuda:N'):
        select_device(preference, EVERYTHING)


@pytest.mark.parametrize(('device', 'available', 'expected'), [
    ('mps', MAC, torch.float16), ('cuda', JETSON, torch.bfloat16),
    ('cuda', OLD_GPUS, torch.float16), ('cpu', EVERYTHING, torch.float32)])
def test_auto_precision_per_device(device, available, expected):
    assert select_precision(torch.device(device), 'auto', available) == expected


def test_explicit_precision_is_honoured_and_checked():
    assert select_precision(torch.device('cpu'), 'bf16', CPU_ONLY) == torch.bfloat16
    assert select_precision(torch.device('cuda'), 'fp32', JETSON) == torch.float32
    with pytest.raises(DeviceUnavailableError, match='does not support bfloat16'):
        select_precision(torch.device('cuda'), 'bf16', OLD_GPUS)
    with pytest.raises(ValueError, match='choose one of auto, fp32, fp16, bf16'):
        select_precision(torch.device('cpu'), 'int8', CPU_ONLY)


def test_choice_is_logged_once(caplog):
    with caplog.at_level(logging.INFO, logger='vjepa_nodes'):
        device, dtype = resolve_device_and_precision('auto', 'auto', JETSON)
    assert (device, dtype) == (torch.device('cuda', 0), torch.bfloat16)
    assert [r.getMessage() for r in caplog.records] == [
        'compute on cuda:0 in bf16 (requested device=auto, precision=auto)']


def test_every_named_precision_has_a_dtype():
    from vjepa_nodes.device import PRECISIONS
    from vjepa_nodes.encoder.config import PRECISION_CHOICES
    assert PRECISION_CHOICES == ('auto', *PRECISIONS)


def platform(system='Linux', machine='x86_64', mlx=False, mps=False, cuda=False) -> Platform:
    return Platform(system=system, machine=machine, mlx=mlx, mps=mps, cuda=cuda)


@pytest.mark.parametrize(('where', 'surprise', 'backend', 'reason'), [
    (platform('Darwin', 'arm64', mlx=True, mps=True), False, 'mlx',
     'auto on Darwin arm64: MLX is installed, the Metal path written for Apple silicon'),
    (platform('Darwin', 'arm64', mlx=False, mps=True), False, 'torch',
     'auto on Darwin arm64: PyTorch on MPS, as MLX is not installed (pip install '
     '"vjepa_nodes[mlx]"'),
    (platform('Darwin', 'arm64', mlx=True, mps=True), True, 'torch',
     'PyTorch on MPS, as surprise is on and its predictor runs on PyTorch only'),
    (platform('Darwin', 'x86_64', mlx=True), False, 'torch',
     'auto on Darwin x86_64: PyTorch on the CPU (no CUDA GPU)'),
    (platform('Linux', 'x86_64', mlx=True, cuda=True), False, 'torch',
     'auto on Linux x86_64: PyTorch on CUDA'),
    (platform('Linux', 'aarch64', mlx=False, cuda=True), False, 'torch',
     'auto on Linux aarch64: PyTorch on CUDA'),
    (platform('Linux', 'x86_64', mlx=True), False, 'torch',
     'auto on Linux x86_64: PyTorch on the CPU (no CUDA GPU)'),
    (platform('Linux', 'x86_64'), False, 'torch',
     'auto on Linux x86_64: PyTorch on the CPU (no CUDA GPU)'),
])
def test_backend_auto_picks_mlx_on_apple_silicon_only(where, surprise, backend, reason):
    choice = choose_backend('auto', where, surprise)
    assert choice.backend == backend and reason in choice.reason, choice


@pytest.mark.parametrize('backend', ['torch', 'onnxruntime', 'tensorrt', 'mlx'])
def test_an_explicit_backend_always_wins(backend):
    for where in (platform('Darwin', 'arm64', mlx=True, mps=True), platform(cuda=True)):
        assert choose_backend(backend, where) == BackendChoice(backend, 'set explicitly')


def test_the_probed_platform_is_this_machine():
    import platform as platform_module
    probed = Platform.probe()
    assert (probed.system, probed.machine) == (platform_module.system(),
                                               platform_module.machine())
    assert probed.cuda == torch.cuda.is_available()
    assert probed.mlx == (mlx_version() is not None)
