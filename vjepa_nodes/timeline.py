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

"""A PNG timeline of scores, the obstacle flag and the commands: the demo's and vjepa-bag's."""

from pathlib import Path


def write_plot(rows: list[dict], path: Path, title: str) -> None:
    """
    Plot region scores, the obstacle flag and the commands over time, states shaded.

    Each row has t (s), left, center, right, score, obstacle, linear, angular and state.
    """
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    t = [r['t'] for r in rows]
    figure, (scores, flag, command) = plt.subplots(
        3, 1, sharex=True, figsize=(10, 7), gridspec_kw={'height_ratios': [3, 1, 2]})
    figure.suptitle(title)
    for key, colour in (('left', 'tab:blue'), ('center', 'tab:red'), ('right', 'tab:green')):
        scores.plot(t, [r[key] for r in rows], label=f'{key} third', color=colour)
    scores.plot(t, [r['score'] for r in rows], label='whole view', color='black', linewidth=2)
    scores.set_ylabel('motion score (0..1)')
    scores.legend(loc='upper right', ncol=4)
    flag.fill_between(t, [int(r['obstacle']) for r in rows], step='post', alpha=0.5,
                      color='tab:red')
    flag.set_yticks([0, 1], ['clear', 'obstacle'])
    command.plot(t, [r['linear'] for r in rows], label='linear (m/s)')
    command.plot(t, [r['angular'] for r in rows], label='angular (rad/s, + = left)')
    for at, row in zip(t, rows):
        if row['state'] not in ('CLEAR', '-'):
            command.axvspan(at - 0.5, at + 0.5, color='orange', alpha=0.15, linewidth=0)
    command.set_ylabel('cmd_vel (shaded: not CLEAR)')
    command.set_xlabel('time since start (s)')
    command.legend(loc='upper right')
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
