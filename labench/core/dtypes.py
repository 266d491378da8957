"""The floating-point types labench measures in, and the tolerance rule that follows from them.

Deep learning trains in 16-bit types: float16 (IEEE half) and bfloat16 (float32's exponent with
an 8-bit significand, through `ml_dtypes`). The reference answer is always float64, computed from
the very values the case stored in its own type, so rounding the inputs costs nothing and only
the arithmetic of the implementation is judged.

Tolerance rule (README, "Precisions"): with eps the machine epsilon of the case's type, eps_acc
the epsilon of the type its sums are accumulated in (float32 for the 16-bit types: NumPy's
float16 loops, ml_dtypes' bfloat16 products and cuBLAS with CUBLAS_COMPUTE_32F all accumulate
in float32; the type itself otherwise), and L the longest sum of the kernel,

    tolerance = 16 * eps_acc * sqrt(max(L, 16)) + 8 * eps

The first term is the random-walk growth of accumulated rounding error (Higham and Mary's
probabilistic bound, sqrt(L) * u, with a wide factor); the second allows a few roundings of the
stored result and of elementwise steps in the narrow type. A wrong kernel is off by order 1;
the largest default, bfloat16 at L = 16384, is 0.063.

With `math: tf32` cuBLAS rounds each float32 input of a product to TF32's 10 significand bits
(eps 2^-10) and still sums in float32, so `8 * 2^-10` is added: the stored-result term of a
10-bit type.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from labench.core.errors import SkipCase

if TYPE_CHECKING:
    pass

DTYPES = ("float64", "float32", "float16", "bfloat16")
ITEMSIZE = {"float64": 8, "float32": 4, "float16": 2, "bfloat16": 2}
NARROW = ("float16", "bfloat16")
"""Types whose sums every library labench drives accumulates in float32."""
MATH_MODES = ("ieee", "tf32")
DEFAULT_MATH = "ieee"
"""IEEE float32 products unless a suite asks for TF32 tensor cores; CuPy's own default unless
CUPY_TF32 is set, which labench overrides per case so a run never depends on the environment."""


def resolve(name: str) -> np.dtype:
    """The NumPy dtype of a type name; bfloat16 needs ml_dtypes, and a case without it is
    skipped with the command that installs it."""
    if name == "bfloat16":
        try:
            import ml_dtypes
        except ImportError:
            raise SkipCase("bfloat16 needs ml_dtypes: pip install 'labench[bfloat16]'") from None
        bfloat16: np.dtype = np.dtype(ml_dtypes.bfloat16)
        return bfloat16
    return np.dtype(name)


def is_floating(dtype: np.dtype) -> bool:
    """NumPy calls bfloat16 kind 'V' (a user type); it is a float all the same."""
    return dtype.kind == "f" or dtype.name == "bfloat16"


def epsilon(name: str) -> float:
    """Machine epsilon (the gap between 1 and the next number) of a type name."""
    significand_bits = {"float64": 52, "float32": 23, "float16": 10, "bfloat16": 7}[name]
    return 2.0**-significand_bits


MATH_EPSILON = {"tf32": 2.0**-10}
"""Epsilon of the products' inputs under each non-IEEE math mode."""


def math_allowance(math: str) -> float:
    """What a math mode adds to the default tolerance: 8 eps of the type its products take."""
    return 8 * MATH_EPSILON[math] if math in MATH_EPSILON else 0.0


def tolerance(name: str, reduction_length: int) -> float:
    """The default largest relative error of a correct answer (the module docstring's rule)."""
    accumulated = epsilon("float32" if name in NARROW else name)
    return 16 * accumulated * math.sqrt(max(reduction_length, 16)) + 8 * epsilon(name)


def dtype_of(output: Any) -> str | None:
    """The dtype name of a kernel's output (of its first array, for a tuple), to record when a
    library answers in another type than it was given."""
    first = output[0] if isinstance(output, tuple) and output else output
    dtype = getattr(first, "dtype", None)
    return None if dtype is None else str(dtype)
