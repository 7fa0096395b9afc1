"""FineTune Studio engine: headless fine-tuning of pretrained models, driven by one recipe.

The Python API (`from core import train, evaluate, predict, export`) is loaded on first use, so `import core`
stays cheap: no torch, transformers or pandas until a function is called.
"""

from __future__ import annotations

__version__ = "0.1.0"
__all__ = ["train", "evaluate", "predict", "export"]


def __getattr__(name: str):
    if name in __all__:
        from core import api

        return getattr(api, name)
    raise AttributeError(f"module 'core' has no attribute {name!r}")
