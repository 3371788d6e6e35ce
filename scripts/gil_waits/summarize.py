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
Sum sitecustomize.py's lines over each timed run of a vjepa-benchmark --end-to-end JSON.

    python3 scripts/gil_waits/summarize.py /tmp/gil e2e.json
prints, per run (layout, cameras) and kind of node, the wake-ups and the share of them later
than 0.5, 1, 2 and 5 ms, and the latest wake-up, over the windows inside the timed seconds.
"""

import argparse
from collections import defaultdict
import glob
import json
import os
import re


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument('gil_dir')
    parser.add_argument('benchmark_json')
    args = parser.parse_args()
    lines = [line.split() for path in glob.glob(os.path.join(args.gil_dir, 'gil_*.txt'))
             for line in open(path)]
    for row in json.load(open(args.benchmark_json))['end_to_end']:
        start = row['timed_from_unix_s']
        end = start + row['duration_s']
        sums: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
        for fields in lines:
            # A window (2 s) ending inside the timed seconds, after its first 2 s.
            if not start + 2 <= float(fields[0]) <= end:
                continue
            kind = re.sub(r'.*\.', '', fields[2])
            values = dict(field.split('=') for field in fields if '=' in field
                          and not field.startswith('__'))
            total = sums[kind]
            total['wakes'] += int(values['wakes'])
            total['max'] = max(total['max'], float(values['max']))
            total['interval'] = float(values['interval'].rstrip('ms'))
            for key in values:
                if key.startswith('>'):
                    total[key] += int(values[key])
        for kind, total in sorted(sums.items()):
            shares = ' '.join(f'{key} {total[key] / total["wakes"]:.4f}' for key in total
                              if key.startswith('>'))
            print(f'{row["layout"]:9} {row["cameras"]} {kind:26} interval {total["interval"]:g} ms'
                  f'  wakes {total["wakes"]:.0f}  {shares}  max {total["max"]:.1f} ms')


if __name__ == '__main__':
    main()
