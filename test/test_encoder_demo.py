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

"""The encoder demo CLI: what it prints, and how it refuses to run without weights."""

import pytest
from vjepa_nodes.tools.encoder_demo import main


def test_demo_reports_device_precision_shape_and_latency(capsys):
    assert main(['--model-size', 'tiny', '--allow-random-weights', '--num-frames', '4',
                 '--height', '32', '--width', '48', '--iterations', '1']) == 0
    out = capsys.readouterr().out
    assert 'RANDOM WEIGHTS' in out
    assert 'device     cpu' in out
    assert 'precision  fp32' in out
    assert 'output     (1, 12, 160) (B, N, D)' in out
    assert 'ms per clip' in out


def test_demo_runs_vjepa21_on_an_image(capsys):
    assert main(['--model-version', '2.1', '--model-size', 'tiny', '--allow-random-weights',
                 '--num-frames', '1', '--height', '32', '--width', '48', '--iterations', '1']) == 0
    out = capsys.readouterr().out
    assert 'V-JEPA 2.1 tiny' in out and 'output     (1, 6, 192) (B, N, D)' in out


def test_demo_refuses_a_size_its_version_lacks(capsys):
    assert main(['--model-version', '2.1', '--model-size', 'huge',
                 '--allow-random-weights']) == 2
    assert "'huge'" in capsys.readouterr().err


def test_demo_without_weights_explains_and_fails(capsys):
    assert main(['--model-size', 'large']) == 2
    assert 'no checkpoint given' in capsys.readouterr().err


def test_demo_rejects_bad_sizes_before_loading_weights(capsys, tmp_path):
    # The checkpoint does not exist: only a size check made first can produce this message.
    assert main(['--model-size', 'tiny', '--checkpoint', str(tmp_path / 'absent.pt'),
                 '--num-frames', '3']) == 2
    assert '3 frames is not a positive multiple of 2' in capsys.readouterr().err


def test_demo_rejects_non_positive_counts(capsys):
    with pytest.raises(SystemExit):
        main(['--model-size', 'tiny', '--allow-random-weights', '--iterations', '0'])
    assert '0 is not a positive integer' in capsys.readouterr().err
