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

"""vjepa-benchmark: the table, the JSON and each mode, run for real on the CPU (tiny model)."""

import json

import pytest
from vjepa_nodes.tools.benchmark import main
from vjepa_nodes.tools.encoder_benchmark import format_table, Row

TINY = ['--model-sizes', 'tiny', '--frames', '4', '--resolutions', '32', '--devices', 'cpu',
        '--iterations', '3']


def run(tmp_path, capsys, *arguments):
    path = tmp_path / 'result.json'
    assert main([*TINY, *arguments, '--json', str(path)]) == 0
    return json.loads(path.read_text()), capsys.readouterr().out


def test_rows_for_every_combination_with_errors_against_fp32(tmp_path, capsys):
    result, printed = run(tmp_path, capsys, '--precisions', 'fp32,bf16', '--batch-sizes', '1,2',
                          '--fast-paths', 'none', '--compare')
    ours = [row for row in result['rows'] if row['implementation'] == 'vjepa_nodes']
    assert [(r['precision'], r['batch']) for r in ours] == [
        ('fp32', 1), ('fp32', 2), ('bf16', 1), ('bf16', 2)]
    for row in ours:
        assert row['ms_per_clip'] > 0 and row['timed_calls'] >= 2
        assert row['min_ms_per_clip'] <= row['ms_per_clip'] <= row['max_ms_per_clip']
        assert row['speedup_vs_torch'] == 1.0  # each row is its case's only torch row
        assert row['clips_per_s'] == pytest.approx(1e3 / row['ms_per_clip'])
        assert row['ms_per_batch'] == pytest.approx(row['ms_per_clip'] * row['batch'])
        assert row['speedup_vs_cpu'] == pytest.approx(
            next(r['ms_per_clip'] for r in ours if r['precision'] == 'fp32'
                 and r['batch'] == row['batch']) / row['ms_per_clip'])
        # fp32 plain is the reference itself; bf16 is close but not equal.
        assert (row['rel_error_vs_fp32'] == 0.0) == (row['precision'] == 'fp32')
        assert row['rel_error_vs_fp32'] < 0.05
    transformers_rows = [r for r in result['rows'] if r['implementation'] == 'transformers']
    assert len(transformers_rows) == 4 and all(r['ms_per_clip'] > 0 for r in transformers_rows)
    assert result['machine']['torch'] and result['machine']['date']
    assert 'vjepa_nodes [none]' in printed and 'transformers' in printed
    assert printed.count('\n tiny') + printed.count('\ntiny') == 8


def test_onnxruntime_and_mlx_rows_sit_beside_the_torch_rows_of_each_case(tmp_path, capsys):
    result, printed = run(tmp_path, capsys, '--precisions', 'fp32,fp16,bf16',
                          '--fast-paths', 'none', '--backends', 'torch,onnxruntime,mlx')
    rows = [(r['precision'], r['implementation'], r['fast_path']) for r in result['rows']]
    assert rows == [('fp32', 'vjepa_nodes', 'none'), ('fp32', 'onnxruntime', 'CPU'),
                    ('fp32', 'mlx', 'cpu'),
                    ('fp16', 'vjepa_nodes', 'none'), ('fp16', 'onnxruntime', 'CPU'),
                    ('fp16', 'mlx', 'cpu'),
                    ('bf16', 'vjepa_nodes', 'none'), ('bf16', 'onnxruntime', '-'),
                    ('bf16', 'mlx', 'cpu')]
    by_name = {(r['implementation'], r['precision']): r for r in result['rows']}
    fp32, fp16 = by_name['onnxruntime', 'fp32'], by_name['onnxruntime', 'fp16']
    assert 0 < fp32['rel_error_vs_fp32'] < 1e-5 and 1e-5 < fp16['rel_error_vs_fp32'] < 3e-3
    assert 0 < by_name['mlx', 'fp32']['rel_error_vs_fp32'] < 1e-5
    assert 1e-5 < by_name['mlx', 'fp16']['rel_error_vs_fp32'] < 3e-3
    assert 1e-5 < by_name['mlx', 'bf16']['rel_error_vs_fp32'] < 0.05
    plain = result['rows'][0]['ms_per_clip']
    timed = [fp32, fp16, *(by_name['mlx', precision] for precision in ('fp32', 'fp16', 'bf16'))]
    for row in timed:
        assert row['timed_calls'] == result['rows'][0]['timed_calls']  # timed in turns
        assert row['speedup_vs_cpu'] == pytest.approx(plain / row['ms_per_clip'])
        assert row['setup_s'] > row['ms_per_clip'] / 1e3  # the export or conversion is set-up
        assert 0 < row['min_ms_per_clip'] <= row['ms_per_clip'] <= row['max_ms_per_clip']
        # Against the torch row of the same case: the same precision, not fp32.
        torch_row = by_name['vjepa_nodes', row['precision']]
        assert torch_row['speedup_vs_torch'] == 1.0
        assert row['speedup_vs_torch'] == pytest.approx(
            torch_row['ms_per_clip'] / row['ms_per_clip'])
    assert 'exported files hold fp32 or fp16' in by_name['onnxruntime', 'bf16']['note']
    assert 'onnxruntime [CPU]' in printed and result['machine']['onnxruntime']
    assert 'mlx [cpu]' in printed and result['machine']['mlx']
    assert {'min', 'max', 'vs torch', 'vs CPU'} <= {
        header.strip() for header in printed.splitlines()[1].split('  ')}


def test_mlx_is_refused_before_work_where_it_does_not_import(capsys, monkeypatch):
    monkeypatch.setattr('vjepa_nodes.tools.benchmark.mlx_version', lambda: None)
    with pytest.raises(SystemExit) as exit_info:
        main(['--backends', 'torch,mlx'])
    assert exit_info.value.code == 2
    assert '--backends mlx needs MLX: pip install' in capsys.readouterr().err


def test_missing_devices_and_references_become_notes_not_failures(tmp_path, capsys):
    result, printed = run(tmp_path, capsys, '--devices', 'cpu,cuda', '--fast-paths', 'none',
                          '--compare', '--official-repo', str(tmp_path), '--backends', 'torch,mlx')
    notes = [row['note'] for row in result['rows'] if row['note']]
    assert any('is not a facebookresearch/vjepa2 checkout' in note for note in notes)
    if not any(row['device'].startswith('cuda') and row['ms_per_clip']
               for row in result['rows']):
        assert any("device 'cuda' was requested" in note for note in notes)
    for row in result['rows']:  # MLX on a CUDA row: its CUDA build, or a note saying why not
        if row['implementation'] == 'mlx' and row['device'].startswith('cuda'):
            assert row['ms_per_clip'] or 'was requested for backend mlx' in row['note']
    assert 'note:' in printed


def test_pipeline_mode_splits_encoder_and_the_rest(tmp_path, capsys):
    result, printed = run(tmp_path, capsys, '--pipeline', '--camera', '60x80', '--stride', '2',
                          '--fast-paths', 'none', '--surprise', '--frames', '6')
    row, with_surprise = result['rows']
    for timed in (row, with_surprise):
        assert timed['camera'] == '60x80' and timed['model_input'] == '32x48'
        # Medians of separate runs: under load the encoder alone may time above the whole.
        assert min(timed['detect_ms'], timed['encoder_ms'], timed['add_frame_ms']) > 0
        assert timed['other_ms'] == pytest.approx(timed['detect_ms'] - timed['encoder_ms'])
    assert (row['surprise'], with_surprise['surprise']) == ('off', 'on')
    assert row['predictor_params'] is None and with_surprise['predictor_params'] > 0
    assert 'encoder ms' in printed and 'x the encoder alone; predictor' in printed


@pytest.mark.parametrize(('models', 'message'), [
    ('colossal', "unknown model_size 'colossal' for V-JEPA 2"),
    ('2.1:huge', "unknown model_size 'huge' for V-JEPA 2.1"),
    ('3:large', "unknown model_version '3'"),
])
def test_unknown_models_are_refused_before_work(capsys, models, message):
    with pytest.raises(SystemExit) as exit_info:
        main(['--model-sizes', models])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_vjepa21_models_are_timed_beside_vjepa2(tmp_path, capsys):
    result, printed = run(tmp_path, capsys, '--model-sizes', 'tiny,2.1:tiny', '--resolutions',
                          '48x64', '--fast-paths', 'none')
    assert [row['model'] for row in result['rows']] == ['tiny', '2.1:tiny']
    assert all(row['ms_per_clip'] > 0 for row in result['rows'])
    assert '2.1:tiny' in printed


def test_table_formats_missing_values_as_dashes():
    text = format_table([Row('tiny', 4, 32, 32, 'cpu', 'fp32', 1, 'mlx', 'cpu', ms_per_clip=1.234,
                             min_ms_per_clip=1.0, max_ms_per_clip=2.5, speedup_vs_torch=0.5)])
    header, line = text.splitlines()
    assert header.split()[:3] == ['model', 'clip', 'device']
    assert 'ms/clip min max clips/s vs torch vs CPU' in ' '.join(header.split())
    assert line.split()[7:12] == ['-', '1.23', '1.00', '2.50', '-']
    assert 'mlx [cpu]' in line and 'x0.50' in line and line.split().count('-') == 6


def test_auto_is_timed_once_where_it_means_a_named_path(tmp_path, capsys):
    result, _ = run(tmp_path, capsys, '--fast-paths', 'none,auto')
    assert [row['fast_path'] for row in result['rows']] == ['none']  # auto is none on a CPU


@pytest.mark.parametrize('size', ['256x', 'x256', '0', '16x-16'])
def test_malformed_resolutions_are_refused(size, capsys):
    with pytest.raises(SystemExit):
        main(['--resolutions', size])
    assert 'resolutions' in capsys.readouterr().err
