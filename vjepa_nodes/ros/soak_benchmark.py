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
`vjepa-soak`: camera -> obstacle_detector -> collision_avoidance for minutes, watched and measured.

Three node processes on loopback DDS in a private domain, with their defaults and a small model
on the CPU, run `--duration` s from the first motion score, then get SIGINT. This process
records the scores, avoidance state, cmd_vel and /diagnostics, samples each node's memory,
threads and CPU time from /proc every second, prints a table per process and a summary, and
writes them with the time series to `--json`; the nodes' stderr go next to it. Exit status 1: a
node did not start, exited early, exited non-zero or printed a traceback.
"""

import argparse
from itertools import groupby
import json
import os
import re
import signal
import subprocess
import sys
import time

import numpy as np
import rclpy
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy
from rclpy.signals import SignalHandlerOptions

from vjepa_nodes.ros.processes import (
    DEMO_NAMESPACE, node_process, private_dds_env, proc_status)

QOS = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
NODES = {'camera': 'camera_node', 'detector': 'obstacle_detector_node',
         'avoidance': 'collision_avoidance_node'}
PROGRESS_EVERY, STOP_TIMEOUT, CLOCK_TICKS = 30.0, 20.0, os.sysconf('SC_CLK_TCK')
COLUMNS = ('name', 'pid', 'rss_start_mb', 'rss_final_mb', 'rss_peak_mb', 'threads', 'cpu_s',
           'cpu_percent', 'exit_code', 'traceback_lines')


class NodeProcess:
    """A node started by processes.node_process, its stderr in a log file; samples from /proc."""

    def __init__(self, name: str, parameters: dict, env: dict, log_path: str) -> None:
        self.name, self.log_path, self.samples, self.exit_code = name, log_path, [], None
        with open(log_path, 'w') as log:  # the child keeps its own copy of the file
            self.process = node_process(NODES[name], parameters, env,
                                        ('-r', f'__ns:={DEMO_NAMESPACE}'), stderr=log)

    def sample(self) -> None:
        """Add a sample from /proc: RSS and peak RSS (MB), threads, CPU seconds."""
        try:
            fields = proc_status(self.process.pid)
            with open(f'/proc/{self.process.pid}/stat') as stat:
                times = stat.read().rsplit(')', 1)[1].split()[11:13]  # utime, stime
            self.samples.append({
                't': time.monotonic(), 'rss_mb': int(fields['VmRSS'].split()[0]) / 1024,
                'hwm_mb': int(fields['VmHWM'].split()[0]) / 1024,
                'threads': int(fields['Threads']), 'cpu_s': sum(map(int, times)) / CLOCK_TICKS})
        except (OSError, KeyError, ValueError, IndexError):
            pass  # gone (a zombie has no VmRSS)

    def row(self, t0: float | None) -> dict:
        """Return memory and threads at the end, CPU over the run, tracebacks, time series."""
        series = self.samples
        window = [s for s in series if t0 is not None and s['t'] >= t0] or series[-1:]
        first, end = (window[0], window[-1]) if window else ({}, {})
        cpu = end.get('cpu_s', 0) - first.get('cpu_s', 0)
        span = end.get('t', 0) - first.get('t', 0)
        with open(self.log_path, errors='replace') as log:
            text = log.read()
        return {'name': self.name, 'pid': self.process.pid, 'rss_start_mb': first.get('rss_mb'),
                'rss_final_mb': end.get('rss_mb'), 'rss_peak_mb': end.get('hwm_mb'),
                'threads': f"{end.get('threads', '-')}/{max(s['threads'] for s in series)}"
                if series else '-', 'cpu_s': cpu if window else None,
                'cpu_percent': 100 * cpu / span if span > 0 else None,
                'exit_code': self.exit_code, 'stderr_log': self.log_path,
                'traceback_lines': sum('Traceback' in line for line in text.splitlines()),
                'tracebacks': re.findall(r'^.*Traceback.*\n(?:[ \t].*\n)*.*', text, re.M)[:20],
                'samples': [[round(s['t'] - (t0 or series[0]['t']), 1), round(s['rss_mb'], 1),
                             s['threads'], round(s['cpu_s'], 2)] for s in series]}


def input_rate(msg) -> float | None:
    """Return the detector's 'input rate (Hz)' from a DiagnosticArray, None if it has none."""
    rates = [kv.value for s in msg.status for kv in s.values if kv.key == 'input rate (Hz)']
    return float(rates[0]) if rates else None


class Monitor(Node):
    """Record when each output arrives, with its value; sample the node processes every second."""

    def __init__(self, nodes: dict[str, NodeProcess]) -> None:
        from diagnostic_msgs.msg import DiagnosticArray
        from geometry_msgs.msg import Twist
        from std_msgs.msg import Float32, String
        super().__init__('soak_monitor', namespace=DEMO_NAMESPACE)
        self.nodes, self.t0, self.events = nodes, None, {}  # events: topic -> [(time, value)]
        for kind, topic, value in (
                (Float32, 'motion_score', lambda msg: msg.data),
                (String, 'avoidance_state', lambda msg: msg.data.split(':')[0]),
                (Twist, 'cmd_vel', lambda msg: msg.linear.x),
                (DiagnosticArray, '/diagnostics', input_rate)):
            self.events[topic] = []
            self.create_subscription(kind, topic, lambda msg, topic=topic, value=value: (
                self.events[topic].append((time.monotonic(), value(msg)))), QOS)
        self.create_timer(1.0, lambda: [node.sample() for node in nodes.values()])

    def progress(self) -> None:
        """Print a line: scores, their rate over the last PROGRESS_EVERY s, state, RSS, load."""
        now, scores = time.monotonic(), [t for t, _ in self.events['motion_score']]
        recent = sum(t >= now - PROGRESS_EVERY for t in scores) / PROGRESS_EVERY
        state = (self.events['avoidance_state'] or [(0, '-')])[-1][1]
        memory = ', '.join(f"{n.name} {n.samples[-1]['rss_mb']:.0f}"
                           for n in self.nodes.values() if n.samples)
        print(f'{now - self.t0:5.0f} s: {len(scores)} scores ({recent:.2f} Hz), state {state}, '
              f'RSS MB {memory}, load {os.getloadavg()[0]:.2f}', flush=True)

    def watch(self, executor, duration: float, startup_timeout: float) -> str | None:
        """Spin until `duration` s after the first score; return why it ended early, if it did."""
        start = time.monotonic()
        try:
            while self.t0 is None or time.monotonic() < self.t0 + duration:
                if (exited := [n for n in self.nodes.values() if n.process.poll() is not None]):
                    when = f'{time.monotonic() - self.t0:.0f} s in' if self.t0 else 'at startup'
                    return f'{exited[0].name} exited with {exited[0].process.returncode} {when}'
                if self.t0 is None and self.events['motion_score']:
                    self.t0 = self.events['motion_score'][0][0]
                    self.create_timer(PROGRESS_EVERY, self.progress)
                    print(f'first score {self.t0 - start:.1f} s after start; measuring '
                          f'{duration:.0f} s', flush=True)
                if self.t0 is None and time.monotonic() - start > startup_timeout:
                    return f'no motion score within {startup_timeout:.0f} s'
                executor.spin_once(timeout_sec=0.05)
        except KeyboardInterrupt:
            return 'interrupted'
        return None


def summary(monitor: Monitor, t0: float, t1: float, camera_fps: float | None) -> dict:
    """Return the run's numbers over [t0, t1]."""
    events = {k: [(t, v) for t, v in e if t0 <= t <= t1 and v is not None]
              for k, e in monitor.events.items()}
    scores = [t for t, _ in events['motion_score']]
    gaps = np.diff(scores) if len(scores) > 1 else np.zeros(1)
    # The detector's 'input rate (Hz)' counts the last 10 s: skip the first 10 s of the run.
    rates = [v for t, v in events['/diagnostics'] if t >= t0 + 10.0] or \
        [v for _, v in events['/diagnostics']]
    states = monitor.events['avoidance_state']  # a state holds until the next one arrives
    changes = [(t0, ([s for t, s in states if t < t0] or ['UNKNOWN'])[-1])]
    changes += [(t, s) for t, s in states if t0 <= t < t1]
    ends = [t for t, _ in changes[1:]] + [t1]
    spans = [(state, end - t) for (t, state), end in zip(changes, ends)]
    seconds = {state: sum(s for k, s in spans if k == state) for state, _ in spans}
    stops = [sum(s for _, s in group) for stopped, group in groupby(  # STOP_STALE, ESTOP
        spans, key=lambda span: 'STOP' in span[0]) if stopped]
    return {
        'duration_s': t1 - t0, 'scores_received': len(scores),
        'score_rate_hz': (len(scores) - 1) / (t1 - t0),
        'score_gap_s_p50': float(np.percentile(gaps, 50)),
        'score_gap_s_p99': float(np.percentile(gaps, 99)), 'score_gap_s_max': float(gaps.max()),
        'detector_input_rate_hz_mean': float(np.mean(rates)) if rates else None,
        'camera_fps': camera_fps,
        'avoidance_state_percent': {k: 100 * v / (t1 - t0) for k, v in sorted(seconds.items())},
        'stop_episodes': len(stops), 'longest_stop_s': max(stops, default=0.0),
        'cmd_vel_messages': len(events['cmd_vel'])}


def stop(nodes: dict, executor) -> None:
    """SIGINT each node; SIGKILL those still running after STOP_TIMEOUT s; keep exit codes."""
    for node in nodes.values():
        node.process.send_signal(signal.SIGINT)  # Popen: a no-op once it has exited
    deadline = time.monotonic() + STOP_TIMEOUT
    while time.monotonic() < deadline and any(n.process.poll() is None for n in nodes.values()):
        executor.spin_once(timeout_sec=0.05)
    for node in nodes.values():
        node.process.kill()
        node.exit_code = node.process.wait()


def report(result: dict) -> None:
    """Print the table per process and the summary."""
    line = '{:<10}{:>8}{:>11}{:>11}{:>10}{:>9}{:>9}{:>7}{:>6}{:>12}'.format
    print(line('process', 'pid', 'RSS start', 'RSS final', 'peak RSS', 'threads', 'CPU s',
               'CPU %', 'exit', 'tracebacks'))
    for row in result['processes']:
        print(line(*('-' if row[key] is None else f'{row[key]:.1f}' if isinstance(
            row[key], float) else str(row[key]) for key in COLUMNS)))
    print(f'(MB; peak: VmHWM; threads: final/max; CPU: over the run, % of one core; exit after '
          f'SIGINT, -9: killed after {STOP_TIMEOUT:.0f} s; tracebacks: "Traceback" lines)')
    if result['error']:
        print(f"error: {result['error']}")
    for key, value in (result['summary'] or {}).items():
        if isinstance(value, dict):
            value = ', '.join(f'{k} {v:.1f} %' for k, v in value.items())
        print(f'{key:>28}  {value:.3f}' if isinstance(value, float) else f'{key:>28}  {value}')
    for row in result['processes']:
        for traceback in row['tracebacks']:
            print(f"--- {row['name']} stderr ---\n{traceback}")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0].strip())
    for option, kind, default, text in (
            ('--duration', float, 600.0, 'seconds measured, from the first motion score'),
            ('--startup-timeout', float, 180.0, 'seconds to wait for the first motion score'),
            ('--width', int, None, "camera width (default: the node's)"),
            ('--height', int, None, "camera height (default: the node's)"),
            ('--fps', float, None, "camera rate (default: the node's)"),
            ('--model-version', str, '2', None), ('--model-size', str, 'tiny', None),
            ('--img-size', int, 128, None),
            ('--num-frames', int, 16, None), ('--stride', int, 8, None),
            ('--json', str, 'soak.json', "the results; the nodes' stderr go next to it")):
        parser.add_argument(option, type=kind, default=default, help=text)
    parser.add_argument('--param', action='append', default=[], metavar='NODE:NAME:=VALUE',
                        help=f'another parameter of a node, NODE in {"|".join(NODES)}')
    args = parser.parse_args(argv)
    for i, text in enumerate(args.param):
        node, _, assignment = text.partition(':')
        name, equals, value = assignment.partition(':=')
        if node not in NODES or not name or not equals:
            parser.error(f'--param {text}: use NODE:NAME:=VALUE, NODE in {"|".join(NODES)}')
        args.param[i] = node, name, value
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    camera = {'source': 'synthetic', **{k: v for k, v in (
        ('width', args.width), ('height', args.height), ('fps', args.fps)) if v is not None}}
    parameters = {'camera': camera, 'avoidance': {
        'start_latched': 'false', 'estop_heartbeat': '0.0'}, 'detector': {
        'model_version': args.model_version, 'model_size': args.model_size,
        'img_size': args.img_size, 'num_frames': args.num_frames,
        'stride': args.stride, 'device': 'cpu', 'precision': 'fp32',
        'allow_random_weights': 'true'}}
    for node, name, value in args.param:
        parameters[node][name] = value
    env = private_dds_env()
    os.environ.update(env)
    probe = 'import importlib.util as u; print(u.find_spec("vjepa_nodes").origin)'
    origin = subprocess.run([sys.executable, '-c', probe], env=env, capture_output=True,
                            text=True).stdout.strip()  # what node_process's children import
    load = os.getloadavg()
    print(f"nodes import vjepa_nodes from {origin}; ROS_DOMAIN_ID {env['ROS_DOMAIN_ID']}; load "
          f'average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} CPUs')
    stem = os.path.splitext(args.json)[0]
    nodes = {name: NodeProcess(name, parameters[name], env, f'{stem}.{name}.log')
             for name in NODES}
    print(f'node stderr: {stem}.NODE.log; parameters {parameters}', flush=True)
    rclpy.init(signal_handler_options=SignalHandlerOptions.NO)  # Ctrl-C: stop the nodes too
    monitor, executor = Monitor(nodes), SingleThreadedExecutor()
    executor.add_node(monitor)
    error = monitor.watch(executor, args.duration, args.startup_timeout)
    t0, t1 = monitor.t0, time.monotonic()
    for node in nodes.values():
        node.sample()  # the last one of the run
    from rcl_interfaces.srv import GetParameters  # the camera's fps, whichever the default
    client, fps = monitor.create_client(GetParameters, '/camera/get_parameters'), None
    if not error and client.wait_for_service(timeout_sec=10.0):
        future = client.call_async(GetParameters.Request(names=['fps']))
        executor.spin_until_future_complete(future, timeout_sec=10.0)
        fps = future.result().values[0].double_value if future.done() else None
    stop(nodes, executor)
    executor.shutdown()
    monitor.destroy_node()
    rclpy.try_shutdown()
    rows = [{**node.row(t0), 'parameters': parameters[name]} for name, node in nodes.items()]
    result = {'error': error, 'load_average_at_start': load,
              'load_average_at_end': os.getloadavg(), 'ros_domain_id': env['ROS_DOMAIN_ID'],
              'vjepa_nodes': origin, 'processes': rows,
              'summary': summary(monitor, t0, t1, fps) if t0 is not None else None}
    report(result)
    with open(args.json, 'w') as out:
        json.dump(result, out, indent=1)
    print(f'wrote {args.json}')
    return 1 if error or any(r['exit_code'] != 0 or r['traceback_lines'] for r in rows) else 0


if __name__ == '__main__':
    sys.exit(main())
