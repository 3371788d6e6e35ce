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
Where the backends keep what they make (ONNX exports, MLX weights), and their staging rule.

An entry is written under a staging name in the cache directory and renamed into place, so no
reader sees half a file; what a killed process leaves behind is removed on a later start.
Imports neither torch nor MLX, so vjepa-doctor can name the directories on any machine.
"""

from pathlib import Path
import shutil
import time

from vjepa_nodes.encoder.download import cache_root

STAGING_PREFIX = '.export-'
STALE_STAGING_SECONDS = 3600.0  # far longer than any export or conversion takes


def onnx_cache_dir() -> Path:
    """~/.cache/vjepa_nodes/onnx, or under $XDG_CACHE_HOME when that is set."""
    return cache_root() / 'onnx'


def mlx_cache_dir() -> Path:
    """~/.cache/vjepa_nodes/mlx, or under $XDG_CACHE_HOME when that is set."""
    return cache_root() / 'mlx'


def remove_stale_staging(cache_dir: Path) -> None:
    """Remove staging files and directories a dead process left (a ViT-L one holds 1.2 GB)."""
    deadline = time.time() - STALE_STAGING_SECONDS
    for staging in cache_dir.glob(STAGING_PREFIX + '*'):
        try:
            if staging.stat().st_mtime >= deadline:
                continue
            if staging.is_dir():
                shutil.rmtree(staging, ignore_errors=True)
            else:
                staging.unlink()
        except OSError:  # another process removed it first
            pass
