"""FineTune Studio engine: headless fine-tuning of pretrained models, driven by one recipe.

The Python API (`from core import train, evaluate, predict, export`) is loaded on first use, so `import core`
stays cheap: no torch, transformers or pandas until a function is called.
"""

from __future__ import annotations

import sys
import types

__version__ = "0.1.0"
__all__ = ["train", "evaluate", "predict", "export"]


def __getattr__(name: str):
    if name in __all__:
        from core import api

        return getattr(api, name)
    raise AttributeError(f"module 'core' has no attribute {name!r}")


class _Package(types.ModuleType):
    """Keeps `core.export` the API function when the `core.export` module is imported (import sets the attribute)."""

    def __setattr__(self, name: str, value) -> None:
        if name in __all__ and isinstance(value, types.ModuleType):
            return  # the module stays importable as `core.export` through sys.modules
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
