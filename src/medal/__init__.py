"""medal: a reproducible study of pool-based active learning on medical images."""

__version__ = "0.1.0"
