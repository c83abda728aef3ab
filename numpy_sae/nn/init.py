"""Weight initializers, each drawing from an explicit ``numpy.random.Generator``.

Glorot (Xavier) uniform keeps the variance of activations roughly constant
through tanh layers; He normal does the same for ReLU. Values are drawn in
float64 and then cast, so a float32 and a float64 model with the same seed
start from the same numbers (up to rounding).
"""

import numpy as np


def glorot_uniform(rng, fan_in, fan_out, dtype=np.float32):
    """Glorot/Xavier uniform weights of shape (fan_in, fan_out).

    Notes
    -----
    W ~ U(-a, a) with a = sqrt(6 / (fan_in + fan_out)), so Var(W) = 2 / (fan_in + fan_out).
    """
    limit = np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-limit, limit, size=(fan_in, fan_out)).astype(dtype)


def he_normal(rng, fan_in, fan_out, dtype=np.float32):
    """He (Kaiming) normal weights of shape (fan_in, fan_out).

    Notes
    -----
    W ~ N(0, 2 / fan_in): ReLU zeroes half its inputs, the factor 2 makes up for it.
    """
    return (rng.standard_normal((fan_in, fan_out)) * np.sqrt(2.0 / fan_in)).astype(dtype)


def standard_normal(rng, fan_in, fan_out, dtype=np.float32):
    """Naive N(0, 1) weights of shape (fan_in, fan_out), for the lecture on why the others exist.

    Notes
    -----
    Var(x @ W) = fan_in * Var(x): activations grow layer by layer, and tanh units
    saturate, where their derivative 1 - out**2 is near 0.
    """
    return rng.standard_normal((fan_in, fan_out)).astype(dtype)


INITIALIZERS = {"glorot": glorot_uniform, "he": he_normal, "normal": standard_normal}
