"""Kernels written once against an array module `xp` (NumPy or CuPy).

The NumPy and CuPy implementations, and the float64 references, all call these, so the GPU
code path is the CPU code path with another `xp`: the tests exercise it with NumPy.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def conv2d(xp: Any, images: Any, filters: Any) -> Any:
    """Valid 2-D cross-correlation of a batch (B, H, W) with a filter bank (F, kh, kw).

    im2col: every kh x kw window as a strided view, contracted with the filters in one
    tensordot (a GEMM on the gathered windows); output (B, F, H - kh + 1, W - kw + 1).
    """
    kh, kw = filters.shape[1:]
    windows = xp.lib.stride_tricks.sliding_window_view(images, (kh, kw), axis=(1, 2))
    out = xp.tensordot(windows, filters, axes=([3, 4], [1, 2]))  # (B, H', W', F)
    return xp.ascontiguousarray(xp.moveaxis(out, 3, 1))


def dense_layer(xp: Any, x: Any, w: Any, b: Any, upstream: Any) -> tuple[Any, ...]:
    """Forward and backward pass of y = tanh(x w + b) given dL/dy = upstream.

    Returns (y, dL/dx, dL/dw, dL/db): one training step's linear algebra for one layer.
    """
    y = xp.tanh(x @ w + b)
    d_pre = upstream * (1 - y * y)
    return y, d_pre @ w.T, x.T @ d_pre, d_pre.sum(axis=0)


def softmax_xent(xp: Any, logits: Any, labels: Any) -> tuple[Any, Any]:
    """Mean softmax cross-entropy over rows and its gradient, shifted by the row maximum so
    exp never overflows. Returns (loss, dL/dlogits)."""
    rows = xp.arange(logits.shape[0])
    shifted = logits - logits.max(axis=1, keepdims=True)
    exponentials = xp.exp(shifted)
    totals = exponentials.sum(axis=1, keepdims=True)
    loss = (xp.log(totals[:, 0]) - shifted[rows, labels]).mean()
    gradient = exponentials / totals
    gradient[rows, labels] -= 1
    return loss, gradient / logits.shape[0]


def to_numpy(xp: Any) -> Any:
    """The function that brings an array of module `xp` to the host as a NumPy array."""
    return getattr(xp, "asnumpy", np.asarray)


def synchronize(xp: Any) -> None:
    """Wait for a device module's queued work (a no-op for NumPy), so a host clock read after
    it covers the work and not only its launch."""
    if xp is not np:
        xp.cuda.Device().synchronize()


SKETCH_SEED = 20111  # fixed, so a randomized factorisation is reproducible run to run
