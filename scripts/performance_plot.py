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
Draw docs/performance.png from the benchmark JSON files in docs/benchmarks/.

Usage: python scripts/performance_plot.py  (needs matplotlib)
"""

import json
from pathlib import Path

import matplotlib

matplotlib.use('Agg')
import matplotlib.pyplot as plt  # noqa: E402 - after choosing the file backend

DOCS = Path(__file__).resolve().parent.parent / 'docs'


def label(row: dict) -> str:
    if row['implementation'] == 'vjepa_nodes':
        return f"ours [{row['fast_path']}]"
    return row['implementation']


def bars(axis, rows: list[dict], title: str, groups: list[tuple[str, dict]]) -> None:
    names = list(dict.fromkeys(label(row) for row in rows if row['ms_per_clip']))
    width = 0.8 / len(groups)
    for offset, (group, match) in enumerate(groups):
        values = [next((row['ms_per_clip'] for row in rows if label(row) == name
                        and all(row[key] == value for key, value in match.items())), 0.0)
                  for name in names]
        positions = [index + offset * width for index in range(len(names))]
        drawn = axis.barh(positions, values, width, label=group)
        axis.bar_label(drawn, fmt='%.1f', padding=2, fontsize=7)
    axis.set_yticks([index + width * (len(groups) - 1) / 2 for index in range(len(names))],
                    names, fontsize=8)
    axis.invert_yaxis()
    axis.set_xlabel('ms per clip (lower is better)')
    axis.set_title(title, fontsize=9)
    axis.legend(fontsize=7)


def main() -> None:
    gpu = json.loads((DOCS / 'benchmarks' / 'h100_encoder.json').read_text())
    cpu = json.loads((DOCS / 'benchmarks' / 'dev_cpu_compare.json').read_text())
    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    bars(left, gpu['rows'], f"ViT-L 16x256 bf16, {gpu['machine']['gpu']}",
         [('batch 1', {'batch': 1}), ('batch 4', {'batch': 4})])
    bars(right, cpu['rows'], f"ViT-L 16x256, CPU ({cpu['machine']['cpu_threads']} cores)",
         [('fp32', {'precision': 'fp32'}), ('bf16', {'precision': 'bf16'})])
    figure.tight_layout()
    figure.savefig(DOCS / 'performance.png', dpi=110)
    print(f"wrote {DOCS / 'performance.png'}")


if __name__ == '__main__':
    main()
