"""FineTune Studio engine: headless fine-tuning of pretrained models, driven by one recipe."""

__version__ = "0.1.0"
