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
What `backend: auto` runs on this platform, and why: a pure decision over a probed Platform.

On macOS on Apple silicon, MLX when it imports (Apple's own Metal path), else PyTorch on MPS;
everywhere else PyTorch (CUDA, then the CPU). An explicit backend always wins.
"""

from dataclasses import dataclass
import platform as platform_module

MLX_INSTALL_HINT = ('pip install "vjepa_nodes[mlx]" (or: pip install mlx on macOS, '
                    'pip install "mlx[cpu]" on Linux)')


@dataclass(frozen=True)
class Platform:
    """What the backend choice depends on; tests make their own instead of probing."""

    system: str  # platform.system(): 'Darwin', 'Linux', 'Windows'
    machine: str  # platform.machine(): 'arm64', 'x86_64', 'aarch64'
    mlx: bool  # mlx.core imports
    mps: bool  # PyTorch sees Apple's Metal Performance Shaders
    cuda: bool  # PyTorch sees a CUDA GPU

    @property
    def apple_silicon_mac(self) -> bool:
        return self.system == 'Darwin' and self.machine == 'arm64'

    @classmethod
    def probe(cls) -> 'Platform':
        import torch
        return cls(system=platform_module.system(), machine=platform_module.machine(),
                   mlx=mlx_version() is not None, mps=torch.backends.mps.is_available(),
                   cuda=torch.cuda.is_available())


def mlx_version() -> str | None:
    """Return the version of an importable MLX, else None (also for a broken install)."""
    try:
        import mlx.core as mx
    except Exception:  # noqa: B902 - a library that fails to load (OSError) is not there either
        return None
    return mx.__version__


@dataclass(frozen=True)
class BackendChoice:
    """The backend that runs the encoder, and why (for the configure log and /diagnostics)."""

    backend: str
    reason: str


def choose_backend(requested: str, platform: Platform | None,
                   surprise: bool = False) -> BackendChoice:
    """
    Return the backend for the `backend` setting `requested` on `platform`.

    `platform` may be None for an explicit backend (no need to probe the machine). `surprise`:
    the predictor runs on PyTorch only, so auto keeps PyTorch when it is on.
    """
    if requested != 'auto':
        return BackendChoice(requested, 'set explicitly')
    if platform is None:
        raise ValueError('backend auto needs the platform to choose for')
    where = f'{platform.system} {platform.machine}'
    if platform.apple_silicon_mac:
        if platform.mlx and not surprise:
            return BackendChoice('mlx', f'auto on {where}: MLX is installed, the Metal path '
                                 'written for Apple silicon')
        device = 'MPS' if platform.mps else 'the CPU (PyTorch sees no MPS)'
        why = ('surprise is on and its predictor runs on PyTorch only' if platform.mlx else
               f'MLX is not installed ({MLX_INSTALL_HINT})')
        return BackendChoice('torch', f'auto on {where}: PyTorch on {device}, as {why}')
    device = 'CUDA' if platform.cuda else 'the CPU (no CUDA GPU)'
    return BackendChoice('torch', f'auto on {where}: PyTorch on {device}')
