"""medal: a reproducible study of pool-based active learning on medical images."""

from medal.blas import pin_kernel

# Before anything loads numpy (and with it OpenBLAS), so that every process computes on the same kernels.
pin_kernel()

__version__ = "0.1.0"
