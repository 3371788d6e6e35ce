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

"""The V-JEPA 2.1 study scripts that docs/PERFORMANCE.md quotes run end to end (small models)."""

import json
from pathlib import Path
import subprocess
import sys

from official_vjepa21 import extract_official, OfficialCodeMissing
import pytest

SCRIPTS = Path(__file__).resolve().parent.parent / 'scripts'


def run_script(name: str, *args: str) -> None:
    subprocess.run([sys.executable, str(SCRIPTS / name), *args], check=True,
                   capture_output=True, timeout=300)


def test_precision_study_measures_ours_and_the_official_code(tmp_path):
    official = tmp_path / 'official'
    official.mkdir()
    try:
        extract_official(official)
    except OfficialCodeMissing as missing:
        pytest.skip(str(missing))
    run_script('vjepa21_precision.py', '--official-root', str(official), '--model-sizes',
               'tiny', '--clips', '2x32x48', '--device', 'cpu', '--json',
               str(tmp_path / 'precision.json'))
    rows = json.loads((tmp_path / 'precision.json').read_text())['rows']
    error = {(r['code'], r['precision'], r['how']): r['relative_error'] for r in rows}
    assert len(error) == len(rows) == 10
    assert error['ours', 'fp32', '-'] < 1e-5 and error['official', 'fp32', '-'] < 1e-5
    for precision in ('bf16', 'fp16'):
        assert error['official', precision, 'weights cast'] is None  # needs autocast
        official = error['official', precision, 'autocast']
        assert 1e-4 < official < 5e-2
        # fp32 RoPE angles: ~3x closer under autocast (no run starts from rounded weights).
        assert error['ours', precision, 'autocast'] < official / 2
        assert official / 2 < error['ours', precision, 'weights cast'] < 1.2 * official


def test_hierarchical_study_scores_every_block_and_their_concatenation(tmp_path):
    run_script('hierarchical_study.py', '--model', '2.1:tiny', '--img-size', '96',
               '--frames', '4', '--stride', '4', '--seeds', '1', '--json',
               str(tmp_path / 'hierarchical.json'))
    rows = json.loads((tmp_path / 'hierarchical.json').read_text())['rows']
    assert [r['features'] for r in rows] == ['block 2', 'block 5', 'block 8', 'block 11',
                                             'all four']
    for row in rows:
        assert 0.5 < row['auroc'] <= 1.0  # moving objects' patches change most
        assert row['over_noise'] > 1.0 and row['moving'] > row['static']
