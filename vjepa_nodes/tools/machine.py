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

"""What a benchmark ran on: the machine and the software, for its JSON."""

import datetime
import importlib
import os
import platform
import sys

import torch

from vjepa_nodes.backend_choice import mlx_version


def machine_info() -> dict:
    """Describe the machine and software the numbers were measured on."""
    info = {'date': datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds'),
            'command': ' '.join(['vjepa-benchmark', *sys.argv[1:]]),
            'python': platform.python_version(), 'torch': torch.__version__,
            'cpu': platform.processor() or platform.machine(), 'cpu_threads': os.cpu_count(),
            'torch_threads': torch.get_num_threads()}
    if torch.cuda.is_available():
        info['gpu'] = torch.cuda.get_device_name(0)
        info['cuda'] = torch.version.cuda
    for name in ('transformers', 'onnxruntime'):
        try:
            info[name] = importlib.import_module(name).__version__
        except ImportError:
            pass
    if mlx := mlx_version():
        info['mlx'] = mlx
    return info
