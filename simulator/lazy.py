"""Lazy exports (PEP 562): a package's public names imported from their modules when first used.

```python
_EXPORTS = {"simulate": "simulator.runner"}          # name → the module that defines it
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
```

So `import simulator` stays quick and a command that only reads a scenario never loads the
engine, pandas or scipy (docs/decisions.md, "Start-up and layering"). It imports nothing of
promosim: the lowest layer, usable by every package.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable


def lazy_exports(package: str, exports: dict[str, str]) -> tuple[Callable[[str], object], Callable[[], list[str]]]:
    """(`__getattr__`, `__dir__`) for the module `package`: a name of `exports` is imported from
    its module on first use and then kept in the package, so later lookups do not come here."""

    def __getattr__(name: str):
        if name not in exports:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(exports[name]), name)
        setattr(sys.modules[package], name, value)
        return value

    def __dir__() -> list[str]:
        return sorted({*vars(sys.modules[package]), *exports})

    return __getattr__, __dir__
