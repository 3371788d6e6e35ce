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

"""Package attributes imported on first use, so `import vjepa_nodes` does not load torch."""

from importlib import import_module
import sys
from typing import Any, Callable


def lazy_exports(package: str, exports: dict[str, str]
                 ) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """
    Return a package's `__getattr__` and `__dir__` for `exports` ({name: defining module}).

    A camera driver or a velocity filter that imports one light module of the package must not
    pay for PyTorch (hundreds of MB resident) because the package re-exports the encoder.
    """
    def __getattr__(name: str) -> Any:  # noqa: N807 - the module hook's required name
        if name not in exports:
            raise AttributeError(f'module {package!r} has no attribute {name!r}')
        return getattr(import_module(exports[name]), name)

    def __dir__() -> list[str]:  # noqa: N807
        return sorted({*vars(sys.modules[package]), *exports})
    return __getattr__, __dir__
