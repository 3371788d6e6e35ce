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
The official V-JEPA 2.1 encoder, built from a git copy of facebookresearch/vjepa2 (not vendored).

The code is read at the 2.1 merge commit from a local git mirror (VJEPA2_OFFICIAL_GIT; any clone
or bare mirror that holds that commit, such as a fork made after March 2026), or from a folder
it was extracted into before (scripts/vjepa21_precision.py runs where no mirror is). Without
either, the tests that need it are skipped with the reason.
"""

import importlib
import os
from pathlib import Path
import subprocess
import sys

OFFICIAL_GIT = os.environ.get('VJEPA2_OFFICIAL_GIT', '/work/.mirror/DhvanilSheth+vjepa2/repo')
MERGE_COMMIT = '45d025f636dfc58fc2426905fc4a1ab755b1c3e5'  # "V-JEPA 2.1 (#130)", 2026-03-17
# Our size -> the official builder in app/vjepa_2_1/models/vision_transformer.py (src/hub maps
# the released g and G to the 22- and 26-head variants).
BUILDERS = {'tiny': 'vit_tiny', 'base': 'vit_base', 'large': 'vit_large',
            'giant': 'vit_giant_xformers', 'gigantic': 'vit_gigantic_xformers'}
# What src/hub/backbones.py passes when it builds a 2.1 encoder.
HUB_KWARGS = {'patch_size': 16, 'img_size': (384, 384), 'num_frames': 64, 'tubelet_size': 2,
              'use_sdpa': True, 'uniform_power': False, 'use_rope': True,
              'img_temporal_dim_size': 1, 'interpolate_rope': True}


class OfficialCodeMissing(RuntimeError):
    """No copy of the official code to read."""


def extract_official(directory: Path) -> None:
    """Extract the official 2.1 code (app/vjepa_2_1 and src) into `directory`."""
    git = ['git', f'--git-dir={OFFICIAL_GIT}']
    if subprocess.run([*git, 'cat-file', '-e', MERGE_COMMIT], capture_output=True).returncode:
        raise OfficialCodeMissing(
            f'no git mirror of facebookresearch/vjepa2 holding {MERGE_COMMIT[:7]} at '
            f'{OFFICIAL_GIT} (set VJEPA2_OFFICIAL_GIT)')
    archive = subprocess.run([*git, 'archive', MERGE_COMMIT, 'app/vjepa_2_1', 'src'],
                             capture_output=True, check=True).stdout
    subprocess.run(['tar', '-x', '-C', str(directory)], input=archive, check=True)


def _import_official(directory: Path, *modules: str) -> list:
    """Import modules of the official code from `directory`, extracting it there if absent."""
    directory = Path(directory)
    if not (directory / 'app' / 'vjepa_2_1').is_dir():
        extract_official(directory)
    sys.path.insert(0, str(directory))
    try:
        return [importlib.import_module(module) for module in modules]
    finally:
        sys.path.remove(str(directory))


def official_module(directory: Path):
    """Return the official 2.1 vision_transformer module from `directory`."""
    return _import_official(directory, 'app.vjepa_2_1.models.vision_transformer')[0]


def official_encoder(vision_transformer, model_size: str):
    """Return the official encoder of `model_size` as the hub builds it, random weights."""
    return vision_transformer.__dict__[BUILDERS[model_size]](**HUB_KWARGS).eval()


def official_predictors(directory: Path):
    """Return the official predictor modules: V-JEPA 2's and 2.1's."""
    return _import_official(directory, 'src.models.predictor',
                            'app.vjepa_2_1.models.predictor')
