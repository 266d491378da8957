"""Numba kernels. Each has one jitted body and two drivers, `range` (one core) and `prange`
(Numba's thread pool), as separate functions: Numba's on-disk cache does not key on the
`parallel` flag, so compiling one function both ways could load the wrong machine code.

Accumulators start from the zero-filled output, so they take the data's dtype (float32 data
is summed in float32, as a float32 kernel would). `fastmath` allows reassociation and fused
multiply-add only (no assumptions about NaN or infinity): without reassociation LLVM cannot
vectorise a floating-point sum, and a matvec runs at a third of BLAS's speed. Results are still
checked against the float64 reference. Imported only when a Numba case runs.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

FAST = {"reassoc", "contract"}
PANEL = 256
"""matmul: rows of B per panel; a 256-row panel of B stays in cache while every row of A
passes over it (2.5x faster than no blocking at n = 2000 here)."""


@njit(cache=True, fastmath=FAST, inline="always")
def _matvec_row(a, x, out, i):
    acc = out[i]
    for j in range(a.shape[1]):
        acc += a[i, j] * x[j]
    out[i] = acc


@njit(cache=True, fastmath=FAST)
def matvec_serial(a, x, out):
    for i in range(a.shape[0]):
        _matvec_row(a, x, out, i)


@njit(cache=True, fastmath=FAST, parallel=True)
def matvec_parallel(a, x, out):
    for i in prange(a.shape[0]):
        _matvec_row(a, x, out, i)


@njit(cache=True, fastmath=FAST)
def matmul_serial(a, b, out):
    """The straightforward loop, in i-k-j order so the innermost loop is contiguous."""
    for i in range(a.shape[0]):
        for p in range(a.shape[1]):
            aip = a[i, p]
            for j in range(b.shape[1]):
                out[i, j] += aip * b[p, j]


@njit(cache=True, fastmath=FAST, inline="always")
def _matmul_panel_row(a, b, out, i, p0, p1):
    for p in range(p0, p1):
        aip = a[i, p]
        for j in range(b.shape[1]):
            out[i, j] += aip * b[p, j]


@njit(cache=True, fastmath=FAST, parallel=True)
def matmul_blocked(a, b, out):
    """Blocked over the inner dimension (panels of B), rows of A spread over threads."""
    for p0 in range(0, a.shape[1], PANEL):
        p1 = min(p0 + PANEL, a.shape[1])
        for i in prange(a.shape[0]):
            _matmul_panel_row(a, b, out, i, p0, p1)


@njit(cache=True, fastmath=FAST, inline="always")
def _conv2d_plane(images, filters, out, plane):
    """One (image, filter) output plane by direct loops."""
    image, f = plane // filters.shape[0], plane % filters.shape[0]
    kh, kw = filters.shape[1], filters.shape[2]
    for i in range(out.shape[2]):
        for j in range(out.shape[3]):
            acc = out[image, f, i, j]
            for u in range(kh):
                for v in range(kw):
                    acc += images[image, i + u, j + v] * filters[f, u, v]
            out[image, f, i, j] = acc


@njit(cache=True, fastmath=FAST)
def conv2d_serial(images, filters, out):
    for plane in range(out.shape[0] * out.shape[1]):
        _conv2d_plane(images, filters, out, plane)


@njit(cache=True, fastmath=FAST, parallel=True)
def conv2d_parallel(images, filters, out):
    for plane in prange(out.shape[0] * out.shape[1]):
        _conv2d_plane(images, filters, out, plane)


@njit(cache=True, fastmath=FAST, inline="always")
def _dense_forward_row(x, w, b, upstream, y, d_pre, dx, i):
    """Row i of y = tanh(x w + b), of d_pre = upstream * (1 - y^2) and of dx = d_pre w^T."""
    for j in range(w.shape[1]):
        y[i, j] = b[j]
    for p in range(w.shape[0]):
        xip = x[i, p]
        for j in range(w.shape[1]):
            y[i, j] += xip * w[p, j]
    for j in range(w.shape[1]):
        y[i, j] = np.tanh(y[i, j])
        d_pre[i, j] = upstream[i, j] * (1 - y[i, j] * y[i, j])
    for p in range(w.shape[0]):
        acc = dx[i, p]
        for j in range(w.shape[1]):
            acc += d_pre[i, j] * w[p, j]
        dx[i, p] = acc


@njit(cache=True, fastmath=FAST, inline="always")
def _dense_weight_row(x, d_pre, dw, p):
    """Row p of dw = x^T d_pre."""
    for i in range(x.shape[0]):
        xip = x[i, p]
        for j in range(d_pre.shape[1]):
            dw[p, j] += xip * d_pre[i, j]


@njit(cache=True, fastmath=FAST)
def dense_layer_serial(x, w, b, upstream, y, d_pre, dx, dw, db):
    for i in range(x.shape[0]):
        _dense_forward_row(x, w, b, upstream, y, d_pre, dx, i)
    for p in range(w.shape[0]):
        _dense_weight_row(x, d_pre, dw, p)
    for i in range(x.shape[0]):
        for j in range(w.shape[1]):
            db[j] += d_pre[i, j]


@njit(cache=True, fastmath=FAST, parallel=True)
def dense_layer_parallel(x, w, b, upstream, y, d_pre, dx, dw, db):
    for i in prange(x.shape[0]):
        _dense_forward_row(x, w, b, upstream, y, d_pre, dx, i)
    for p in prange(w.shape[0]):
        _dense_weight_row(x, d_pre, dw, p)
    for j in prange(w.shape[1]):
        for i in range(x.shape[0]):
            db[j] += d_pre[i, j]


@njit(cache=True, fastmath=FAST, inline="always")
def _softmax_xent_row(logits, labels, losses, gradient, i):
    top = logits[i, 0]
    for j in range(logits.shape[1]):
        top = max(top, logits[i, j])
    total = losses[i]  # zero, in the data's dtype
    for j in range(logits.shape[1]):
        gradient[i, j] = np.exp(logits[i, j] - top)
        total += gradient[i, j]
    losses[i] = np.log(total) - (logits[i, labels[i]] - top)
    scale = 1 / (total * logits.shape[0])
    for j in range(logits.shape[1]):
        gradient[i, j] *= scale
    gradient[i, labels[i]] -= 1 / logits.shape[0]


@njit(cache=True, fastmath=FAST)
def softmax_xent_serial(logits, labels, losses, gradient):
    for i in range(logits.shape[0]):
        _softmax_xent_row(logits, labels, losses, gradient, i)


@njit(cache=True, fastmath=FAST, parallel=True)
def softmax_xent_parallel(logits, labels, losses, gradient):
    for i in prange(logits.shape[0]):
        _softmax_xent_row(logits, labels, losses, gradient, i)
