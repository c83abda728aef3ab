"""Numerical gradients by centered differences, to prove every backward pass.

``numerical_gradient`` differentiates a scalar function; ``numerical_gradient_array``
handles array-valued functions by dotting them with an upstream gradient
``dout``; ``check_model`` compares every parameter gradient of a model with
its numerical estimate. Run checks in float64: float32 rounding swamps the
differences (see examples/gradient_check.py).
"""

import numpy as np


def numerical_gradient(f, x, h=1e-5, indices=None):
    """Centered-difference gradient of a scalar function.

    Parameters
    ----------
    f : callable () -> float
        Reads ``x`` (which is perturbed in place) and returns a scalar.
    x : ndarray, any shape, float64 recommended
    h : float
    indices : iterable of index tuples or None
        Entries to differentiate; all entries when None (others stay 0).

    Returns
    -------
    grad : ndarray, shape of x

    Notes
    -----
    df/dx_i ~ (f(x + h e_i) - f(x - h e_i)) / (2 h), error O(h**2).
    """
    grad = np.zeros_like(x)
    if indices is None:
        indices = np.ndindex(*x.shape)
    for ix in indices:
        old = x[ix]
        x[ix] = old + h
        f_plus = f()
        x[ix] = old - h
        f_minus = f()
        x[ix] = old
        grad[ix] = (f_plus - f_minus) / (2 * h)
    return grad


def numerical_gradient_array(f, x, dout, h=1e-5):
    """Numerical vector-Jacobian product of an array-valued function.

    Parameters
    ----------
    f : callable () -> ndarray of the shape of ``dout``
    x : ndarray, perturbed in place
    dout : ndarray, the upstream gradient

    Returns
    -------
    grad : ndarray, shape of x: the gradient of sum(f() * dout) w.r.t. x.
    """
    return numerical_gradient(lambda: float(np.sum(f() * dout)), x, h)


def relative_error(a, b, floor=1e-8):
    """Largest elementwise relative error max |a - b| / max(|a| + |b|, floor)."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"shapes differ: {a.shape} vs {b.shape}")
    if a.size == 0:
        return 0.0
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(a) + np.abs(b), floor)))


def check_model(model, x, y, h=1e-5, n_entries=None, rng=None):
    """Compare every analytic parameter gradient of a model with centered differences.

    Parameters
    ----------
    model : object with ``parameters()`` and ``loss_and_gradients(x, y)`` returning
        ``(terms, grads, logits)`` (a float64 model: float32 cannot resolve the differences).
    x : ndarray, shape (N, input_dim)
    y : ndarray of int, shape (N,)
    n_entries : int or None
        Check this many randomly chosen entries per tensor (for large models);
        every entry when None.
    rng : numpy.random.Generator, needed when ``n_entries`` is given.

    Returns
    -------
    dict name -> {"shape": tuple, "checked": int, "max_rel_error": float}
    """
    _, grads, _ = model.loss_and_gradients(x, y)
    analytic = {k: g.copy() for k, g in grads.items()}
    report = {}
    for name, p in model.parameters().items():
        if n_entries is None or n_entries >= p.size:
            chosen = list(np.ndindex(*p.shape))
        else:
            flat = rng.choice(p.size, size=n_entries, replace=False)
            chosen = [np.unravel_index(i, p.shape) for i in flat]
        numeric = numerical_gradient(lambda: model.loss_and_gradients(x, y)[0].total, p, h, chosen)
        rows = tuple(np.array(ix) for ix in zip(*chosen))
        report[name] = {"shape": p.shape, "checked": len(chosen),
                        "max_rel_error": relative_error(analytic[name][rows], numeric[rows])}
    return report
