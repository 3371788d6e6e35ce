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
Imports between the package's modules, read from the source with ast; what light modules load.

The camera and avoidance nodes must not pay for torch (hundreds of MB on an 8 GB Jetson), and the
ROS-free core must not depend on the ROS side or the tools.
"""

import ast
from pathlib import Path
import subprocess
import sys

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = 'vjepa_nodes'


def module_name(path: Path) -> str:
    """Return the dotted name of a module file under ROOT; a package's __init__ is the package."""
    parts = path.resolve().relative_to(ROOT).with_suffix('').parts
    return '.'.join(parts[:-1] if parts[-1] == '__init__' else parts)


def is_module(name: str) -> bool:
    """Whether the dotted `name` is a module or a package in this repository."""
    path = ROOT.joinpath(*name.split('.'))
    return path.with_suffix('.py').is_file() or (path / '__init__.py').is_file()


def module_imports(path: Path) -> set[str]:
    """
    Return the modules that the file at `path` imports anywhere: at the top, in functions.

    Relative imports are resolved. `from x import y` gives x.y where that is a module of this
    repository and x otherwise; other distributions' modules keep the name written (`import
    torch.nn` gives torch.nn, `from torch import nn` gives torch). A package __init__'s lazy
    exports (module names as strings) count as imports.
    """
    name = module_name(path)
    package = name.split('.') if path.name == '__init__.py' else name.split('.')[:-1]
    imported = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            imported.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module
            if node.level:  # `from . import y`: this package; `from .. import y`: its parent
                parent = package[:len(package) - node.level + 1]
                base = '.'.join([*parent, node.module] if node.module else parent)
            for alias in node.names:
                submodule = f'{base}.{alias.name}'
                imported.add(submodule if is_module(submodule) else base)
        elif (path.name == '__init__.py' and isinstance(node, ast.Constant)
              and isinstance(node.value, str) and node.value.startswith(f'{PACKAGE}.')
              and is_module(node.value)):
            imported.add(node.value)
    return imported


def import_graph() -> dict[str, set[str]]:
    """Map each module of the package to the package's modules it imports."""
    graph = {}
    for path in sorted((ROOT / PACKAGE).rglob('*.py')):
        graph[module_name(path)] = {target for target in module_imports(path)
                                    if target.split('.')[0] == PACKAGE}
    return graph


def import_cycles(graph: dict[str, set[str]]) -> list[tuple[str, ...]]:
    """Return the groups of modules that import each other, directly or through others."""
    reach = {}
    for module in graph:
        seen, todo = set(), [module]
        while todo:
            for target in graph.get(todo.pop(), ()):
                if target not in seen:
                    seen.add(target)
                    todo.append(target)
        reach[module] = seen
    return sorted({tuple(sorted(other for other in reach[module] if module in reach[other]))
                   for module in graph if module in reach[module]})


def test_no_import_cycles():
    graph = import_graph()
    cycles = import_cycles(graph)
    assert not cycles, 'import cycles:\n' + '\n'.join(
        ', '.join(sorted(f'{source} -> {target}'
                         for source in cycle for target in graph[source] & set(cycle)))
        for cycle in cycles)


def test_imports_in_functions_and_of_submodules_are_found():
    tools = ROOT / PACKAGE / 'tools'
    # main() imports the ROS side inside the function; the others name functions of modules.
    assert {'vjepa_nodes.ros.latency_benchmark', 'vjepa_nodes.tools.encoder_benchmark',
            'vjepa_nodes.tools.pipeline_benchmark'} <= module_imports(tools / 'benchmark.py')
    # `from vjepa_nodes.tools import reference_models` imports the module, not the package.
    assert 'vjepa_nodes.tools' not in module_imports(tools / 'encoder_benchmark.py')
    assert {'vjepa_nodes.tools.reference_models', 'vjepa_nodes.tools.timing'} <= module_imports(
        tools / 'encoder_benchmark.py')


def test_an_unknown_name_of_the_package_is_an_attribute_error():
    import vjepa_nodes
    with pytest.raises(AttributeError, match="'vjepa_nodes' has no attribute 'Nope'"):
        vjepa_nodes.Nope


def test_lazy_exports_count_as_imports():
    assert 'vjepa_nodes.perception.detector' in module_imports(ROOT / PACKAGE / '__init__.py')


def test_the_core_never_imports_the_ros_side_or_the_tools():
    outside_core = (f'{PACKAGE}.ros', f'{PACKAGE}.tools', 'rclpy', 'launch', 'launch_ros')
    for path in sorted((ROOT / PACKAGE).rglob('*.py')):
        if module_name(path).startswith(outside_core[:2]):
            continue
        wrong = {name for name in module_imports(path) if name.startswith(outside_core)}
        assert not wrong, f'{module_name(path)} imports {wrong}'


def _heavy_modules_after(code: str, heavy: tuple[str, ...] = ('torch', 'timm'),
                         timeout: float = 60.0) -> list[str]:
    """Run `code` in a fresh interpreter; return the modules of `heavy` packages it loaded."""
    probe = (f'{code}\nimport sys\n'
             f"print(sorted(m for m in sys.modules if m.split('.')[0] in {heavy}))")
    result = subprocess.run([sys.executable, '-c', probe], capture_output=True, text=True,
                            timeout=timeout)
    assert result.returncode == 0, result.stderr
    return ast.literal_eval(result.stdout.strip().splitlines()[-1])


def test_light_modules_and_the_package_import_neither_torch_nor_timm():
    light = ('vjepa_nodes', 'vjepa_nodes.synthetic', 'vjepa_nodes.camera_sources',
             'vjepa_nodes.avoidance', 'vjepa_nodes.estop', 'vjepa_nodes.freshness',
             'vjepa_nodes.perception.config', 'vjepa_nodes.encoder.config',
             'vjepa_nodes.encoder.export_spec', 'vjepa_nodes.ros.node_settings',
             'vjepa_nodes.ros.processes')
    assert _heavy_modules_after('\n'.join(f'import {name}' for name in light)) == []
    # The convenient top-level API still works: the detector brings torch when it is used.
    assert 'torch' in _heavy_modules_after(
        'from vjepa_nodes import DetectorConfig, ObstacleDetector')
    every_name = ('import vjepa_nodes, vjepa_nodes.encoder\n'
                  'for package in (vjepa_nodes, vjepa_nodes.encoder):\n'
                  '    assert set(package.__all__) <= set(dir(package))\n'
                  '    [getattr(package, name) for name in package.__all__]')
    assert 'torch' in _heavy_modules_after(every_name)


@pytest.mark.ros
def test_the_camera_and_avoidance_nodes_run_without_torch():
    # Built and spun for real, as their executables do, on a private domain on loopback.
    code = """
import rclpy
from vjepa_nodes.ros.camera_node import CameraNode
from vjepa_nodes.ros.collision_avoidance_node import CollisionAvoidanceNode
from rclpy.executors import SingleThreadedExecutor
rclpy.init()
executor = SingleThreadedExecutor()
nodes = [CameraNode(), CollisionAvoidanceNode()]
for node in nodes:
    executor.add_node(node)
for _ in range(20):
    executor.spin_once(timeout_sec=0.05)
for node in nodes:
    node.destroy_node()
rclpy.try_shutdown()
"""
    assert _heavy_modules_after(code) == []
    # A velocity filter needs no image library either.
    assert _heavy_modules_after('import vjepa_nodes.ros.collision_avoidance_node',
                                ('torch', 'timm', 'cv2')) == []
