"""Backprop exercises: a student copy of the math, and a grader that says what is wrong.

:func:`student_source` writes the forward/backward functions of
:mod:`numpy_sae.nn.functional` and one Adam step with their docstrings,
shapes and formulas kept and each body replaced by ``raise
NotImplementedError``. It is generated from the library's own source (by
``ast``), so there is no second copy to keep in sync. :func:`grade` imports a
student's file and checks each function in float64: its forward values
against the library's, its gradients against centered differences of its own
forward, naming the input or parameter that is wrong.
"""

import ast
import contextlib
import importlib.util
import inspect
import io
import json
import linecache
import re
import sys
import textwrap
import traceback
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..nn import functional as F
from ..nn import optim
from ..nn.gradcheck import numerical_gradient, numerical_gradient_array, relative_error
from .remote import GradingLost, RemoteStudent, StudentError

# (module, function): the functions a student writes, in the order of a lecture.
GRADED = (
    (F, "dense_forward"), (F, "dense_backward"),
    (F, "tanh_forward"), (F, "tanh_backward"),
    (F, "sigmoid_forward"), (F, "sigmoid_backward"),
    (F, "relu_forward"), (F, "relu_backward"),
    (F, "softmax_forward"), (F, "softmax_backward"),
    (F, "softmax_cross_entropy"), (F, "sum_squared_error"),
    (F, "joint_loss"), (F, "fanout_backward"),
    (F, "meanstd_pool_forward"), (F, "meanstd_pool_backward"),
    (F, "filterbank_forward"), (F, "filterbank_backward"),
    (optim, "adam_step"),
    (F, "joint_network_loss"),
)
# Given in full: helpers the graded functions may call.
PROVIDED = ((F, "log_softmax"), (F, "fanout_forward"))
BOUND = 1e-6

HINTS = {
    "dense_forward": "out = x @ W + b; cache what backward needs (x and W)",
    "dense_backward": "dx = dout @ W.T, dW = x.T @ dout, db = dout summed over the batch",
    "tanh_forward": "np.tanh; cache the output, the derivative needs only it",
    "tanh_backward": "dx = dout * (1 - out**2)",
    "sigmoid_forward": "1 / (1 + exp(-x)), or (1 + tanh(x / 2)) / 2, which never overflows",
    "sigmoid_backward": "dx = dout * out * (1 - out)",
    "relu_forward": "max(0, x); cache the mask x > 0",
    "relu_backward": "dx = dout where x > 0, else 0",
    "softmax_forward": "subtract each row's max before exp; rows must sum to 1",
    "softmax_backward": "dz_j = p_j (dout_j - sum_i dout_i p_i)",
    "softmax_cross_entropy": "loss = -mean log p[y] by log-sum-exp; dlogits = (p - onehot) / N",
    "sum_squared_error": "loss = sum of squares / N (summed over features); dx_hat = 2 (x_hat - x) / N",
    "joint_loss": "gamma * rec + (1 - gamma) * ce; gamma * dx_hat, (1 - gamma) * dlogits",
    "fanout_backward": "a value used twice gets the sum of both gradients",
    "joint_network_loss": "forward through encoder, tanh, both heads; joint_loss; then "
                          "dense_backward of each head, fanout_backward at the code, "
                          "tanh_backward, dense_backward of the encoder",
    "meanstd_pool_forward": "mean over axis 1 (time), then sqrt(mean of squared deviations + eps)",
    "meanstd_pool_backward": "every frame gets dmu / T, plus ds * (x_t - mu) / (T s); the "
                             "path through mu adds nothing (deviations sum to 0)",
    "adam_step": "bias-correct m and v with 1 - beta**t before the step; update in place",
    "filterbank_forward": "y = x @ W.T; e = y[:, :K]**2 + y[:, K:]**2; c = log(e + eps)",
    "filterbank_backward": "de = dout / (e + eps); dy = 2 y * [de, de]; dW = dy.T @ x; "
                           "dx = dy @ W",
}

# Hints come in steps, so a first failure never hands out the answer: 1 names the rule
# and the quantity, 2 the shapes and the pieces, 3 (the HINTS above) the formula itself.
STEP_HINTS = {
    "dense_forward": ("an affine map of every row of x", "x (N, D_in) @ W (D_in, D_out) "
                      "gives (N, D_out); b broadcasts over the rows"),
    "dense_backward": ("the chain rule through a matrix product: each input's gradient is "
                       "dout multiplied by what it was multiplied with", "dx has x's shape "
                       "(N, D_in), dW has W's (D_in, D_out), db has b's (D_out,): pick the "
                       "products and sums that give exactly those shapes"),
    "tanh_forward": ("an elementwise function; keep what backward will need",
                     "out has x's shape; the derivative of tanh is a function of tanh itself"),
    "tanh_backward": ("elementwise chain rule: dout times the local derivative at x",
                      "write tanh'(x) in terms of out = tanh(x), which the cache holds"),
    "sigmoid_forward": ("an elementwise squashing to (0, 1) that must not overflow",
                        "exp(-x) overflows for x << 0; tanh never does"),
    "sigmoid_backward": ("elementwise chain rule, as for tanh",
                         "write sigmoid'(x) in terms of out = sigmoid(x)"),
    "relu_forward": ("max(0, x) elementwise; keep which entries passed",
                     "cache a boolean mask of x's shape"),
    "relu_backward": ("the gradient passes where the input was positive, and stops elsewhere",
                      "multiply dout by the cached mask"),
    "softmax_forward": ("exp, then normalize each row; large logits must stay finite",
                        "softmax(z) = softmax(z - c) for any c per row"),
    "softmax_backward": ("every output depends on every input of its row: a Jacobian-vector "
                         "product", "dz_j = sum_i dout_i dp_i/dz_j, with dp_i/dz_j = "
                         "p_i (delta_ij - p_j)"),
    "softmax_cross_entropy": ("the mean negative log-probability of the right class, by "
                              "log-sum-exp", "the gradient of -log softmax(z)[y] with "
                              "respect to z is a difference of two (C,) vectors; then average"),
    "sum_squared_error": ("a sum over features, a mean over the batch",
                          "dx_hat has x_hat's shape (N, D); do not forget the batch mean"),
    "joint_loss": ("a weighted sum: each term's gradient is scaled by its own weight",
                   "return the weighted loss and new, scaled dx_hat and dlogits"),
    "fanout_backward": ("a value that feeds two branches collects gradient from both",
                        "dx has the shape of each branch's gradient (N, D)"),
    "meanstd_pool_forward": ("summarize each feature over the time axis (axis 1)",
                             "x (N, T, K) gives mu and s of shape (N, K) each, "
                             "concatenated to (N, 2K)"),
    "meanstd_pool_backward": ("every frame contributed to the mean and to the standard "
                              "deviation: add both paths", "split dout into dmu and ds "
                              "(N, K) each; dx is (N, T, K); dmu/dx_t and ds/dx_t are per frame"),
    "joint_network_loss": ("the whole graph, forward then backward in reverse order, from "
                           "your own functions", "keep every cache of the forward pass; the "
                           "code's gradient has the code's shape (N, K) and two sources"),
    "adam_step": ("first and second moments, bias-corrected, then the step; p, m and v "
                  "in place (the layers and the optimizer hold these arrays)",
                  "m and v have p's shape; the correction uses the step number t"),
    "filterbank_forward": ("filter every frame with every row of W, pair the rows, keep the "
                           "squared modulus of each pair, take its log",
                           "x (n, N) @ W.T (N, 2K) gives y (n, 2K); rows k and K + k of W "
                           "are one pair, so e and c are (n, K)"),
    "filterbank_backward": ("three chain rules in a row: log, square, then a matrix product",
                            "de (n, K) reaches both y_k and y_{K+k}; dy is (n, 2K), dW has "
                            "W's shape (2K, N), dx has x's (n, N)"),
}

# The derive level keeps each function's shapes and names, and for a function that returns
# gradients only the forward it differentiates: the gradient formula is the student's work.
DERIVE_NOTES = {
    "dense_backward": "forward: out = x @ W + b. Derive dx, dW and db.",
    "tanh_backward": "forward: out = tanh(x). Derive dx, using only the cached out.",
    "sigmoid_backward": "forward: out = 1 / (1 + exp(-x)). Derive dx, using only out.",
    "relu_backward": "forward: out = max(0, x). Derive dx.",
    "softmax_backward": "forward: p = softmax(z) per row. Derive dz from dout and p.",
    "softmax_cross_entropy": ("loss = -(1/N) sum_n log softmax(z_n)[y_n], finite for logits "
                              "of +-1000. Derive dlogits."),
    "sum_squared_error": "loss = (1/N) sum_n ||x_n - x_hat_n||^2. Derive dx_hat.",
    "joint_loss": "L = gamma * L_rec + (1 - gamma) * L_ce. Derive how each gradient changes.",
    "fanout_backward": ("forward: the same x goes to branch a and branch b. Derive dx from "
                        "dout_a and dout_b."),
    "meanstd_pool_backward": ("forward: mu = (1/T) sum_t x_t, s = sqrt((1/T) sum_t "
                              "(x_t - mu)**2 + eps). Derive dx_t."),
    "filterbank_backward": ("forward: y = x W^T, e_k = y_k**2 + y_{K+k}**2, c = log(e + eps). "
                            "Derive dW and dx from dout = dL/dc."),
}
LEVELS = ("guided", "derive")

# The four classic mistakes of ``numpy-sae gradcheck --break``, planted in a student
# file: (function, text of the library's body, the mistaken text).
BUGS = {
    "tanh-derivative": ("tanh_backward", "    dx = dout * (1.0 - out**2)", "    dx = dout.copy()"),
    "code-sum": ("fanout_backward", "    dx = dout_a + dout_b", "    dx = dout_a.copy()"),
    "batch-mean": ("softmax_cross_entropy", "    dlogits = (np.exp(log_probs) - onehot) / n",
                   "    dlogits = np.exp(log_probs) - onehot"),
    "bias-sum": ("dense_backward", "dout.sum(axis=0)", "dout.mean(axis=0)"),
}

FILE_NAME = "backprop.py"
_HEADER = '''"""Backpropagation exercises from numpy_sae: write the body of every function that
raises NotImplementedError, then run `numpy-sae exercises check {folder}`.

Shapes are batch-first: x is (N, D), W is (D_in, D_out), b is (D_out,), dout is
the gradient of the loss with respect to a function's output. Each docstring
gives the shapes and the forward formula{level_words}. Work in NumPy only; keep
every function free of state (what a backward needs goes in its cache), and
never change an input array in place (the layers before and after still use
it): adam_step alone updates p, m and v in place. Return arrays of your inputs'
dtype: the checks run in float64, training in float32. Keep each function's name
and parameters as they are (the grader checks the signature). print() works:
the grader shows what you print under your function.
"""

import numpy as np

'''


def _function_source(module, name, solved, level="guided"):
    """One function's source: whole, or with its body replaced by NotImplementedError (at
    the derive level, a gradient function's Notes give only the forward it differentiates)."""
    source = textwrap.dedent(inspect.getsource(getattr(module, name)))
    if solved:
        return source
    node = ast.parse(source).body[0]
    docstring_end = node.body[0].end_lineno  # the docstring is the first statement
    lines = source.splitlines()[:docstring_end]
    if level == "derive" and name in DERIVE_NOTES:
        start = next(i for i, line in enumerate(lines) if line.strip() == "Notes")
        lines = lines[:start] + ["    Notes", "    -----", f"    {DERIVE_NOTES[name]}",
                                 '    """']
    return "\n".join(lines) + f'\n    raise NotImplementedError("{name}: your code here")\n'


def student_source(solutions=False, bug=None, folder=".", level="guided"):
    """The text of a student file; ``solutions`` keeps the library's bodies (for
    instructors), ``bug`` then plants one of :data:`BUGS` in them; ``level`` "derive"
    leaves the gradient formulas out of the docstrings."""
    if bug is not None and bug not in BUGS:
        raise ValueError(f"unknown bug {bug!r}; choose from {', '.join(BUGS)}")
    if level not in LEVELS:
        raise ValueError(f"unknown level {level!r}; choose from {', '.join(LEVELS)}")
    # repr-safe: a Windows path such as C:\Users\alice would otherwise hold "\U" escapes.
    level_words = "" if level == "derive" else " and the gradient's"
    parts = [_HEADER.format(folder=str(folder).replace("\\", "/"), level_words=level_words)]
    parts += [_function_source(m, n, True) for m, n in PROVIDED]
    parts += [_function_source(m, n, solutions, level) for m, n in GRADED]
    text = "\n\n\n".join(part.rstrip("\n") for part in parts) + "\n"
    if bug is not None:
        name, correct, wrong = BUGS[bug]
        start = text.index(f"def {name}(")
        end = text.find("\ndef ", start + 1)
        end = len(text) if end < 0 else end
        body = text[start:end]
        if correct not in body:
            raise RuntimeError(f"cannot plant {bug}: {name} no longer reads {correct!r}")
        text = text[:start] + body.replace(correct, wrong, 1) + text[end:]
    return text


def load_student(path):
    """Import a student's file as a module; modules beside it (helpers) import too, also
    from inside its functions, so its folder stays on the import path: last on it, so a
    helper named like a standard or installed module (random.py, tempfile.py) never
    replaces that module for NumPy, SciPy or the grader."""
    folder = str(Path(path).resolve().parent)
    if folder not in sys.path:
        sys.path.append(folder)
    spec = importlib.util.spec_from_file_location("student_backprop", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@dataclass
class Grade:
    """One function's result: status, the worst relative error seen (None when nothing
    was compared), a hint, notes on a right answer (an input changed in place), and what
    the student's code printed while it was graded."""

    function: str
    status: str
    error: float | None
    hint: str
    notes: str = ""
    output: str = ""

    @property
    def passed(self):
        return self.status == "correct"


class _Wrong(Exception):
    """A check failed; its message is the status ("wrong forward", "wrong gradient: dW")."""

    def __init__(self, status, error):
        super().__init__(status)
        self.status, self.error = status, error


# Constant factors a classic slip leaves between a student's array and the right one,
# as (ratio, what it means); sizes (N, T, ...) are added per check from the shapes used.
_FACTORS = ((2.0, "a factor 2 (the derivative of a square?)"),
            (0.5, "a factor 1/2 (the derivative of a square?)"),
            (-1.0, "the sign (a minus sign?)"))


def _constant_ratio(student, reference):
    """The one number r with student = r * reference everywhere, or None."""
    big = np.abs(reference) > 1e-3 * np.abs(reference).max(initial=0.0)
    if not big.any():
        return None
    ratios = student[big] / reference[big]
    r = float(np.median(ratios))
    if r == 0.0 or relative_error(student, r * reference) > 1e-6:
        return None
    return r


def _factor_words(r, sizes, generic=True):
    """What a constant ratio means: "N = 4 times the expected value (a missing 1/N?)";
    with ``generic`` False, None for a ratio that is no size and no classic factor."""
    for name, size in sizes.items():
        if size > 1 and abs(r - size) < 1e-6 * size:
            return f"{name} = {size} times the expected value (a missing 1/{name}?)"
        if size > 1 and abs(r * size - 1) < 1e-6:
            return f"1/{name} = 1/{size} of the expected value (an extra 1/{name}?)"
        for bessel, power in ((size / (size - 1) if size > 1 else 0, ""),
                              (np.sqrt(size / (size - 1)) if size > 1 else 0, "the root of ")):
            if size > 1 and abs(r - bessel) < 1e-6 * bessel:
                return (f"{power}{name}/({name}-1) = {bessel:.4g} times the expected value "
                        f"(the variance over {name} - 1, ddof=1? the pooling uses 1/{name})")
    for ratio, words in _FACTORS:
        if abs(r - ratio) < 1e-6:
            return f"off by {words}"
    if not generic:
        return None
    return f"{r:.4g} times the expected value (a constant factor is off)"


def _same(what, student, reference, state):
    stage = state["stage"]
    if isinstance(student, tuple) and len(student) > 0 and \
            np.shape(reference) != np.shape(student) and \
            np.shape(student[0]) == np.shape(reference):
        state[stage] = np.inf
        raise _Wrong(f"{what}: got a tuple where one array was expected", np.inf)
    if np.shape(student) != np.shape(reference):
        state[stage] = np.inf
        raise _Wrong(f"{what}: shape {np.shape(student)}, expected {np.shape(reference)}",
                     np.inf)
    student = np.asarray(student, dtype=np.float64)
    if not np.isfinite(student).all():
        state[stage] = np.nan
        raise _Wrong(f"{what}: NaN or inf in the result", np.nan)
    error = relative_error(student, reference)
    state[stage] = max(state.get(stage, 0.0), error)
    if not error < BOUND:
        # A constant ratio means something only where the check says which sizes could be
        # the factor (not for Adam's moments); of one number (a loss) only when it is
        # exactly one of those sizes or a classic factor, not any ratio at all.
        r = None if state.get("sizes") is None else \
            _constant_ratio(student, np.asarray(reference, dtype=np.float64))
        words = None if r is None else _factor_words(r, state["sizes"],
                                                     generic=student.size >= 2)
        if words is not None:
            raise _Wrong(f"{what}: {words}", error)
        raise _Wrong(what, error)


def _copied(value):
    """A copy of an argument: arrays, and the arrays inside a cache tuple."""
    if isinstance(value, np.ndarray):
        return value.copy()
    if isinstance(value, tuple):
        return tuple(_copied(v) for v in value)
    return value


def _changed(before, after):
    if isinstance(before, np.ndarray):
        return not (isinstance(after, np.ndarray) and before.shape == after.shape
                    and np.array_equal(before, after, equal_nan=True))
    if isinstance(before, tuple) and isinstance(after, tuple) and len(before) == len(after):
        return any(_changed(b, a) for b, a in zip(before, after))
    return False


class _Watched:
    """The student's module, seen through a lens: each function is called on copies of
    its arguments, so the reference is always computed from pristine inputs, and an
    argument the function changed in place is written down (the same way for every
    function; :func:`grade` makes it a note or part of the cause)."""

    def __init__(self, student, state):
        self.module, self._state = student, state

    def __getattr__(self, name):
        function = getattr(self.module, name)
        library = getattr(F, name, None)
        names = list(inspect.signature(library).parameters) if library else []

        def called(*args, **kwargs):
            given = [_copied(a) for a in args]
            printed = io.StringIO()  # shown under the function that printed it
            try:
                with contextlib.redirect_stdout(printed):
                    result = function(*given, **kwargs)
            finally:
                self._state.setdefault("printed", {}).setdefault(name, []).append(
                    printed.getvalue())
            for label, before, after in zip(names, args, given):
                if _changed(before, after):
                    self._state.setdefault("changed", {})[label] = name
            once = self._state.setdefault("called_twice", set())
            if name in _DETERMINISTIC and name not in once:
                once.add(name)
                _same_again(name, result, function(*[_copied(a) for a in args], **kwargs))
            return result
        return called


# The functions whose output is checked to be the same in two calls on the same inputs
# (the first call of each unit): a forward or a loss must depend on its inputs alone.
_DETERMINISTIC = {name for _, name in GRADED if name.endswith("_forward")} | {
    "softmax_cross_entropy", "sum_squared_error", "joint_loss", "joint_network_loss"}


def _same_again(name, first, second):
    """_Wrong when two calls of ``name`` on the same inputs gave different outputs (the
    first item of a pair: out, or the loss); arrays the grader cannot see (kept in the
    student's process) are not compared."""
    first, second = (value[0] if isinstance(value, tuple) and value else value
                     for value in (first, second))
    try:
        first, second = (np.asarray(value, dtype=np.float64) for value in (first, second))
    except (TypeError, ValueError):
        return
    if first.shape != second.shape or not np.isfinite(first).all():
        return  # the checks that follow name a shape or a NaN
    error = relative_error(second, first)
    if error > 1e-9:  # a BLAS may round two calls apart, by far less
        raise _Wrong(f"wrong forward: not deterministic: two calls of {name} on the same "
                     f"inputs differ (max rel err {error:.1e}); random numbers (noise, "
                     "dropout)? It must depend on its inputs alone", error)


def _returns_pair(name, result):
    """A forward must return (out, cache); a bare array is named before its values."""
    if not (isinstance(result, tuple) and len(result) == 2):
        what = type(result).__name__ if not isinstance(result, tuple) else \
            f"a tuple of {len(result)}"
        raise _Wrong(f"wrong forward: {name} must return (out, cache), it returned {what}",
                     np.inf)
    return result


def _stable(what, student_fn, reference_fn, state, fix):
    """Logits of +-1000 must give finite, right results, as the docstrings promise."""
    try:
        with np.errstate(all="ignore"):
            mine = student_fn()
    except (FloatingPointError, OverflowError):
        mine = np.nan
    if not np.isfinite(np.asarray(mine, dtype=np.float64)).all():
        state[state["stage"]] = np.nan  # not the tiny error of the ordinary logits before
        raise _Wrong(f"{what}: NaN or inf for logits of +-1000 (numerically unstable: "
                     f"{fix})", np.nan)
    try:
        _same(what, mine, reference_fn(), state)
    except _Wrong as wrong:
        raise _Wrong(f"{wrong.status} for logits of +-1000 only (right on ordinary logits; "
                     f"{fix})", wrong.error) from None


def _check_activation(student, name, rng, state, x=None):
    forward, backward = getattr(student, f"{name}_forward"), getattr(student, f"{name}_backward")
    x = rng.standard_normal((4, 5)) if x is None else x
    state["sizes"] = {}
    out, cache = _returns_pair(f"{name}_forward", forward(x))
    _same("wrong forward", out, getattr(F, f"{name}_forward")(x.copy())[0], state)
    _keeps_dtype(forward, (x,))
    if name == "softmax":
        big = np.array([[1000.0, 0.0, -5.0], [-1000.0, 0.0, 5.0]])
        _stable("wrong forward", lambda: forward(big)[0], lambda: F.softmax_forward(big)[0],
                state, "subtract each row's maximum first")
    dout = rng.standard_normal((4, 5))
    state["stage"] = "backward"
    dx = backward(dout, cache)
    # The gradient by the name the library's docstring gives it (softmax's is dlogits).
    gradient = "dlogits" if name == "softmax" else "dx"
    expected = numerical_gradient_array(lambda: forward(x)[0], x, dout)
    if name == "softmax" and np.shape(dx) == expected.shape and relative_error(
            np.asarray(dx, dtype=np.float64), dout * out * (1 - out)) < BOUND:
        raise _Wrong("wrong gradient: dlogits: the Jacobian's diagonal only (dout * p * "
                     "(1 - p)); each p_j depends on every logit z_i, so dz_j = p_j (dout_j "
                     "- sum_i dout_i p_i)", relative_error(dx, expected))
    _same(f"wrong gradient: {gradient}", dx, expected, state)
    _check_stateless(lambda: forward(x)[1], lambda: forward(rng.standard_normal((6, 5))),
                     lambda c: (backward(dout, c),), (dx,))


def _keeps_dtype(forward, args):
    """A forward's output has its inputs' dtype: float64 in the checks (where centered
    differences of a float32 forward are noise, and would blame a right backward), float32
    in training (where an ``out=`` buffer of float64 fails)."""
    dtype = np.asarray(forward(*args)[0]).dtype
    if dtype != np.float64:
        raise _Wrong(f"wrong forward: it returns {dtype} for float64 inputs; compute in the "
                     "inputs' dtype (the checks run in float64, training in float32)", np.nan)
    single = [a.astype(np.float32) if isinstance(a, np.ndarray) else a for a in args]
    try:
        dtype = np.asarray(forward(*single)[0]).dtype
    except Exception as exc:  # an out= buffer of the wrong dtype, most often
        raise _Wrong(f"wrong forward: with float32 inputs, as in training, it raises "
                     f"{type(exc).__name__}: {text_of(exc)} (a buffer of a fixed dtype? "
                     "compute in the inputs' dtype)", np.nan) from None
    if dtype != np.float32:
        raise _Wrong(f"wrong forward: it returns {dtype} for float32 inputs, as in training; "
                     "compute in the inputs' dtype", np.nan)


def _check_stateless(first_cache, other_forward, backward, gradients):
    """A forward, another forward on other inputs, then the backward on the first cache
    must give the gradients found before: a pair that keeps what the backward needs
    outside the cache (a module global) passes the checks and breaks training, where
    every layer runs its forward before any backward."""
    cache = first_cache()
    other_forward()
    try:
        again = backward(cache)
        same = all(np.shape(a) == np.shape(b) and np.allclose(a, b, rtol=1e-6, atol=1e-9)
                   for a, b in zip(again, gradients))
    except Exception:  # a shape error from the other forward's state, most often
        same = False
    if not same:
        raise _Wrong("wrong gradient when another forward runs before the backward (as in "
                     "a network, where every layer's forward runs first): the backward must "
                     "use only its cache; keep what it needs there, not in a global or "
                     "another object outside the function", np.nan)


def _check(student, name, rng, state):
    """Raise _Wrong for the first mistake of ``name``; return None when it is right.

    ``student`` is the :class:`_Watched` module: every call gets copies of its inputs."""
    if name in ("tanh", "sigmoid", "softmax"):
        return _check_activation(student, name, rng, state)
    if name == "relu":
        # Away from the kink at 0, where a centered difference straddles two slopes.
        x = rng.standard_normal((4, 5))
        x += np.sign(x) * 0.1
        return _check_activation(student, name, rng, state, x)
    if name == "dense":
        x, W, b = rng.standard_normal((4, 5)), rng.standard_normal((5, 3)), rng.standard_normal(3)
        state["sizes"] = {"N": 4}
        forward = student.dense_forward
        out, cache = _returns_pair("dense_forward", forward(x, W, b))
        _same("wrong forward", out, F.dense_forward(x, W, b)[0], state)
        _keeps_dtype(forward, (x, W, b))
        dout = rng.standard_normal((4, 3))
        state["stage"] = "backward"
        dx, dW, db = student.dense_backward(dout, cache)
        for label, value, wrt in (("dx", dx, x), ("dW", dW, W), ("db", db, b)):
            _same(f"wrong gradient: {label}", value,
                  numerical_gradient_array(lambda: forward(x, W, b)[0], wrt, dout), state)
        _check_stateless(lambda: forward(x, W, b)[1],
                         lambda: forward(rng.standard_normal((6, 5)), W, b),
                         lambda c: student.dense_backward(dout, c), (dx, dW, db))
        return None
    if name == "softmax_cross_entropy":
        logits, y = rng.standard_normal((5, 4)), rng.integers(0, 4, 5)
        state["sizes"] = {"N": 5}
        loss, dlogits = student.softmax_cross_entropy(logits, y)
        _same("wrong forward", loss, F.softmax_cross_entropy(logits, y)[0], state)
        big = np.array([[1000.0, 0.0, -1000.0], [-1000.0, 1000.0, 0.0]])
        _stable("wrong forward", lambda: student.softmax_cross_entropy(big, y[:2] % 3)[0],
                lambda: F.softmax_cross_entropy(big, y[:2] % 3)[0], state,
                "log of a probability that underflowed to 0 (or of p + a small constant) "
                "is wrong there: compute log softmax by log-sum-exp, as log_softmax does")
        state["stage"] = "backward"
        numeric = numerical_gradient(lambda: student.softmax_cross_entropy(logits, y)[0], logits)
        return _same("wrong gradient: dlogits", dlogits, numeric, state)
    if name == "sum_squared_error":
        x_hat, x = rng.standard_normal((4, 6)), rng.standard_normal((4, 6))
        state["sizes"] = {"N": 4, "D": 6}
        loss, dx_hat = student.sum_squared_error(x_hat, x)
        _same("wrong forward", loss, F.sum_squared_error(x_hat, x)[0], state)
        state["stage"] = "backward"
        numeric = numerical_gradient(lambda: student.sum_squared_error(x_hat, x)[0], x_hat)
        return _same("wrong gradient: dx_hat", dx_hat, numeric, state)
    if name == "joint_loss":
        x_hat, z = rng.standard_normal((4, 6)), rng.standard_normal((4, 6))
        logits, y, gamma = rng.standard_normal((4, 3)), rng.integers(0, 3, 4), 0.3
        state["sizes"] = {"N": 4}

        def joint(fn):
            return fn(*F.sum_squared_error(x_hat, z), *F.softmax_cross_entropy(logits, y),
                      gamma)
        loss, dx_hat, dlogits = joint(student.joint_loss)
        _same("wrong forward", loss, joint(F.joint_loss)[0], state)
        state["stage"] = "backward"
        for label, value, wrt in (("dx_hat", dx_hat, x_hat), ("dlogits", dlogits, logits)):
            _same(f"wrong gradient: {label}", value,
                  numerical_gradient(lambda: joint(student.joint_loss)[0], wrt), state)
        return None
    if name == "fanout":
        x, da, db = (rng.standard_normal((4, 3)) for _ in range(3))
        state["sizes"] = {}

        def branches():
            (a, b), _ = F.fanout_forward(x)
            return float(np.sum(a * da) + np.sum(b * db))
        state["stage"] = "backward"
        return _same("wrong gradient: dx", student.fanout_backward(da, db),
                     numerical_gradient(branches, x), state)
    if name == "meanstd_pool":
        return _check_pooling(student, rng, state)
    if name == "filterbank":
        x, W = rng.standard_normal((5, 8)), rng.standard_normal((6, 8))
        state["sizes"] = {"n": 5}
        forward = student.filterbank_forward
        out, cache = _returns_pair("filterbank_forward", forward(x, W))
        _same("wrong forward", out, F.filterbank_forward(x.copy(), W.copy())[0], state)
        dout = rng.standard_normal((5, 3))
        state["stage"] = "backward"
        dx, dW = student.filterbank_backward(dout, cache, need_dx=True)
        _same("wrong gradient: dW", dW,
              numerical_gradient_array(lambda: forward(x, W)[0], W, dout), state)
        return _same("wrong gradient: dx", dx,
                     numerical_gradient_array(lambda: forward(x, W)[0], x, dout), state)
    if name == "adam":
        return _check_adam(student.module, rng, state)
    if name == "joint_network_loss":
        return _check_network(student.module, rng, state)
    raise ValueError(f"no check for {name}")


def _check_pooling(student, rng, state):
    """Mean/std pooling, each path of the backward on its own first (dout with only its
    mean part, then only its std part), so a slip names the path and its factor (1/T)."""
    N, T, K = 3, 5, 4
    x = rng.standard_normal((N, T, K))
    state["sizes"] = {"T": T}
    forward = student.meanstd_pool_forward
    out, cache = _returns_pair("meanstd_pool_forward", forward(x))
    _same("wrong forward", out, F.meanstd_pool_forward(x.copy())[0], state)
    dout = rng.standard_normal((N, 2 * K))
    state["stage"] = "backward"
    only_mean, only_std = dout.copy(), dout.copy()
    only_mean[:, K:], only_std[:, :K] = 0.0, 0.0
    # The three probes perturb the same entries of x: each forward runs once per point.
    outputs = {}

    def pooled():
        key = x.tobytes()
        if key not in outputs:
            outputs[key] = forward(x)[0]
        return outputs[key]
    for path, probe in (("through the mean", only_mean), ("through the std", only_std),
                        ("", dout)):
        dx = student.meanstd_pool_backward(probe, cache)
        _same("wrong gradient: dx" + (f" {path}" if path else ""), dx,
              numerical_gradient_array(pooled, x, probe), state)


def _adam_run(adam, p, g, steps, lr, betas, eps):
    """p, m, v after ``steps`` Adam steps of one function from zero moments."""
    p, m, v = p.copy(), np.zeros_like(p), np.zeros_like(p)
    for t in range(1, steps + 1):
        adam(p, g, m, v, t, lr, *betas, eps)
    return p, m, v


def _check_adam(student, rng, state):
    """Three steps at the default betas, then at other betas and a second learning rate:
    an update that ignores lr (or a beta) is right only at the first setting."""
    p, g = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    state["sizes"] = None
    settings = ((0.01, (0.9, 0.999), 1e-8), (0.003, (0.8, 0.99), 1e-6))
    for number, (lr, betas, eps) in enumerate(settings):
        mine = [p.copy(), np.zeros_like(p), np.zeros_like(p)]
        reference = [p.copy(), np.zeros_like(p), np.zeros_like(p)]
        for t in (1, 2, 3):
            before = [a.copy() for a in mine]
            given = g.copy()
            student.adam_step(mine[0], given, mine[1], mine[2], t, lr, *betas, eps)
            if not np.array_equal(given, g):  # the gradient is the layers' too
                state.setdefault("changed", {})["g"] = "adam_step"
            for label, a, b in zip(("p", "m", "v"), mine, before):
                if np.array_equal(a, b):
                    raise _Wrong(f"{label} must be updated in place ({label} -= ..., or "
                                 f"{label}[...] = ..., not {label} = ...): the layers and the "
                                 "optimizer hold the same array", np.nan)
            optim.adam_step(reference[0], g, reference[1], reference[2], t, lr, *betas, eps)
            try:
                # The moments first: a wrong m or v makes p wrong too.
                for label, a, b in zip(("m", "v", "p"), mine[1:] + mine[:1],
                                       reference[1:] + reference[:1]):
                    _same(f"wrong update: {label} after step {t}", a, b, state)
            except _Wrong as wrong:
                slip = (_adam_slip(before[0], mine, t, lr, betas, eps)
                        if wrong.status.startswith("wrong update: p") else None)
                if slip is not None:
                    raise _Wrong(f"{wrong.status}: {slip}", wrong.error) from None
                if number == 0:
                    raise
                ignored = [what for what, other in (("lr", (0.01,) + settings[1][1:]),
                                                    ("beta1, beta2", (lr, (0.9, 0.999), eps)),
                                                    ("eps", (lr, betas, 1e-8)))
                           if _agrees(student, p, g, t, other, lr, betas, eps)]
                words = (f" (it ignores {ignored[0]}: the update is the one for the default "
                         "value)" if ignored else "")
                raise _Wrong(f"{wrong.status} with lr={lr:g}, betas={betas}, eps={eps:g}"
                             f"{words}", wrong.error) from None


def _adam_slip(p_before, mine, t, lr, betas, eps):
    """The classic bias-correction slip that gives the student's p from their (right) m and
    v at step t, in words, or None."""
    p, m, v = mine
    beta1, beta2 = betas
    slips = {"no bias correction (m_hat = m / (1 - beta1**t), v_hat = v / (1 - beta2**t))":
             (1, 1), "the bias correction with t + 1 (t is already this step's number)":
             (1 - beta1 ** (t + 1), 1 - beta2 ** (t + 1)),
             "only m is bias-corrected (v_hat = v / (1 - beta2**t) too)": (1 - beta1 ** t, 1),
             "only v is bias-corrected (m_hat = m / (1 - beta1**t) too)": (1, 1 - beta2 ** t)}
    if t > 1:
        slips["the bias correction with t - 1 (t is already this step's number)"] = (
            1 - beta1 ** (t - 1), 1 - beta2 ** (t - 1))
    for words, (c1, c2) in slips.items():
        expected = p_before - lr * (m / c1) / (np.sqrt(v / c2) + eps)
        if relative_error(p, expected) < BOUND:
            return words
    return None


def _agrees(student, p, g, steps, other, lr, betas, eps):
    """Whether the student's result at (lr, betas, eps) is the library's at ``other``."""
    mine = _adam_run(student.adam_step, p, g, steps, lr, betas, eps)
    theirs = _adam_run(optim.adam_step, p, g, steps, *other)
    return all(relative_error(a, b) < BOUND for a, b in zip(mine, theirs))


def one_layer_params(rng, d, k, c, bias_scale=0.1, classifier_scale=1.0):
    """Random parameters of the one-layer network of :func:`F.joint_network_loss`, under the
    model's names; biases of 0 when ``bias_scale`` is 0 (drawn in the order listed)."""
    def bias(size):
        return rng.standard_normal(size) * bias_scale if bias_scale else np.zeros(size)
    return {"encoder.0.W": rng.standard_normal((d, k)) * 0.5, "encoder.0.b": bias(k),
            "decoder.0.W": rng.standard_normal((k, d)) * 0.5, "decoder.0.b": bias(d),
            "classifier.0.W": rng.standard_normal((k, c)) * classifier_scale,
            "classifier.0.b": bias(c)}


def _network_case(rng, n=5, d=6, k=4, c=3):
    params = one_layer_params(rng, d, k, c)
    return params, rng.standard_normal((n, d)), rng.integers(0, c, n), 0.7


def _one_branch(params, x, y, gamma, keep):
    """The library's encoder gradients when only one head's gradient reaches the code."""
    a, encoder_cache = F.dense_forward(x, params["encoder.0.W"], params["encoder.0.b"])
    code, tanh_cache = F.tanh_forward(a)
    _, dx_hat = F.sum_squared_error(code @ params["decoder.0.W"] + params["decoder.0.b"], x)
    _, dlogits = F.softmax_cross_entropy(code @ params["classifier.0.W"] + params["classifier.0.b"], y)
    dx_hat, dlogits = dx_hat * gamma, dlogits * (1 - gamma)
    dcode = dx_hat @ params["decoder.0.W"].T if keep == "decoder" else dlogits @ params["classifier.0.W"].T
    return F.dense_backward(F.tanh_backward(dcode, tanh_cache), encoder_cache)[1]


def _check_network(student, rng, state):
    """The whole network's loss, then each gradient against centered differences of the
    student's own loss, in the order of the graph from the output back to the input.

    The composition is graded on its own: while it runs, the functions it calls are the
    library's, so a mistake inside tanh_backward is charged to tanh_backward only."""
    parts = [name for module, name in GRADED + PROVIDED
             if module is F and name != "joint_network_loss" and hasattr(student, name)]
    with _library_inside(student, parts):
        return _check_composition(student, rng, state)


@contextlib.contextmanager
def _library_inside(student, parts):
    """Within the block the student's functions ``parts`` are the library's: in the
    student's own process (a RemoteStudent), or in the student's module itself."""
    if isinstance(student, RemoteStudent):
        with student.library_inside(parts):
            yield
        return
    own = {name: getattr(student, name) for name in parts}
    for name in parts:
        setattr(student, name, getattr(F, name))
    try:
        yield
    finally:
        for name, function in own.items():
            setattr(student, name, function)


def _check_composition(student, rng, state):
    params, x, y, gamma = _network_case(rng)
    given, given_x = {k: v.copy() for k, v in params.items()}, x.copy()
    loss, grads = student.joint_network_loss(given, given_x, y, gamma)
    for label, before, after in (("params", params, given), ("x", {"x": x}, {"x": given_x})):
        if any(not np.array_equal(before[k], after.get(k)) for k in before):
            state.setdefault("changed", {})[label] = "joint_network_loss"
    _same("wrong forward", loss, F.joint_network_loss(params, x, y, gamma)[0], state)
    state["stage"] = "backward"
    if not isinstance(grads, dict) or set(grads) != set(params):
        raise _Wrong(f"grads must be a dict with the keys {', '.join(params)}", np.nan)
    for key in ("classifier.0.W", "classifier.0.b", "decoder.0.W", "decoder.0.b",
                "encoder.0.W", "encoder.0.b"):
        # Copies at every call (taken after the entry is nudged): a loss that changes its
        # params must not move the point the differences are taken at.
        numeric = numerical_gradient(lambda: student.joint_network_loss(
            {k: v.copy() for k, v in params.items()}, x.copy(), y, gamma)[0], params[key])
        try:
            _same(f"wrong gradient: {key}", grads[key], numeric, state)
        except _Wrong as wrong:
            for branch in ("decoder", "classifier"):
                if key == "encoder.0.W" and np.shape(grads[key]) == params[key].shape and \
                        relative_error(grads[key], _one_branch(params, x, y, gamma, branch)) < BOUND:
                    raise _Wrong(f"wrong gradient: encoder.0.W holds only the {branch}'s part: at the "
                                 "code the two heads' gradients add (fanout_backward)",
                                 wrong.error) from None
            raise


def unit_of(function):
    """The unit a function is checked in: dense_backward is checked with dense_forward."""
    for suffix in ("_forward", "_backward"):
        if function.endswith(suffix):
            return function[:-len(suffix)]
    return {"adam_step": "adam", "fanout_backward": "fanout"}.get(function, function)


def grade(student, seed=0, only=None):
    """Grade every function of :data:`GRADED` in a student module; a list of :class:`Grade`.

    A forward/backward pair is checked together: the forward's values first,
    then the backward's gradients against centered differences of that forward.
    Every call gets copies of its inputs; what the student's code prints is kept
    with the function that printed it.
    only : names of functions to grade (both functions of each pair are), or None for all
    student : a module, a notebook's namespace, or a :class:`RemoteStudent` (the
        student's functions in a process of their own, as the command line grades)
    """
    units = None if only is None else {unit_of(name) for name in only}
    graded = [(module, name) for module, name in GRADED if units is None or unit_of(name) in units]
    outcomes = {}
    for module, name in graded:
        unit = unit_of(name)
        if unit in outcomes:
            continue
        state = {"stage": "forward"}
        problems = [_signature_problem(student, m, n) for m, n in graded if unit_of(n) == unit]
        problems = [p for p in problems if p]
        if problems:
            outcomes[unit] = (problems[0], state)
            continue
        try:
            # What the student's code prints is kept per function (_Watched); the second
            # call of a determinism check prints here, and is not shown.
            with np.errstate(all="ignore"), contextlib.redirect_stdout(io.StringIO()):
                if isinstance(student, RemoteStudent):
                    student.begin_unit()  # its time limit starts; a lost process restarts
                _check(_Watched(student, state), unit, np.random.default_rng(seed), state)
            outcome = "correct"
        except NotImplementedError:
            outcome = "not started"
        except _Wrong as wrong:
            outcome = wrong.status
        except BaseException as exc:  # a student's code may fail any way, sys.exit too
            if isinstance(student, RemoteStudent) and not isinstance(exc, Exception):
                raise  # Ctrl-C or SIGTERM to the grader: the student's errors are Exceptions
            outcome = f"error: {describe_error(exc, student)}"
        outcomes[unit] = (outcome, state)
    # After the checks: a student's process says which functions loaded numpy_sae as they ran.
    borrowed = library_calls(student)
    grades = []
    for module, name in graded:
        outcome, state = outcomes[unit_of(name)]
        # What this function printed (the unit's other prints are the other function's).
        printed = truncated(condensed("".join(state.get("printed", {}).get(name, []))))
        stages = (("forward",) if name.endswith("_forward") else ("backward",)
                  if name.endswith("_backward") else ("forward", "backward"))
        compared = [state[stage] for stage in stages if stage in state]
        error = max(compared, key=lambda e: np.inf if np.isnan(e) else e) if compared else None
        status = _status(student, module, name, outcome, state)
        notes = ""
        changed = [label for label, function in state.get("changed", {}).items()
                   if function == name]
        if changed and not _is_stub(student, name):
            words = (f"your function changed its input{'s' if len(changed) > 1 else ''} "
                     f"{', '.join(changed)} in place (the layers around it still use "
                     f"{'them' if len(changed) > 1 else 'it'}: compute into a new array, "
                     f"e.g. dx = dout * ..., not dout *= ...)")
            if status == "correct":
                notes = f"right values, but {words}"
            elif not status.startswith(("not ", "wrong signature")):
                status = f"{status}; {words}"
        if name in borrowed and not _is_stub(student, name):
            status = (f"not accepted: it calls numpy_sae's own code ({borrowed[name]}); the "
                      "exercise is to write it with NumPy")
        grades.append(Grade(name, status, error, HINTS[name], notes, printed))
    return grades


def condensed(text):
    """Printed output with each run of one repeated line shown once, and how often: a
    print() in a forward runs once per input entry of the gradient check."""
    lines, out = text.split("\n"), []
    i = 0
    while i < len(lines):
        j = i
        while j + 1 < len(lines) and lines[j + 1] == lines[i]:
            j += 1
        out.append(lines[i])
        if j > i:
            out.append(f"(the line above {j - i} more time{'s' if j - i > 1 else ''}: the "
                       "gradient check calls your forward once per entry it perturbs)")
        i = j + 1
    return "\n".join(out)


def truncated(text, limit=1500):
    return text if len(text) <= limit else text[:limit] + f"\n... ({len(text) - limit} more " \
        "characters not shown)"


def _student_path(student):
    """The file of a student module, or the path itself; None for a notebook's namespace."""
    return student if isinstance(student, (str, Path)) else getattr(student, "__file__", None)


def describe_error(exc, student):
    """"NameError: name 'x' is not defined (backprop.py, line 42, in f: ...)": the error
    and where in the student's file (a module or its path) it was raised; a SyntaxError
    in a file made from a notebook names the notebook's cell."""
    path = _student_path(student)
    if isinstance(exc, GradingLost):
        return f"{exc.reason}{where(exc, student)}"
    if isinstance(exc, StudentError):
        if exc.syntax and path and exc.syntax[0] and isinstance(exc.syntax[1], int) and \
                Path(exc.syntax[0]).resolve() == Path(path).resolve():
            return f"{exc.type_name}: {exc.syntax[2]} ({located(path, exc.syntax[1])})"
        return f"{exc.type_name}: {exc.message}{where(exc, student)}"
    if (isinstance(exc, SyntaxError) and path and exc.filename and exc.lineno
            and Path(exc.filename).resolve() == Path(path).resolve()):
        return f"{type(exc).__name__}: {exc.msg} ({located(path, exc.lineno)})"
    return f"{type(exc).__name__}: {text_of(exc)}{where(exc, student)}"


CELL_MAP_SUFFIX = ".cells.json"  # beside a file made from a notebook: its lines' cells


def located(path, number):
    """"backprop.py, line 42", or for a file made from a notebook (a cell map beside it)
    "backprop.ipynb, cell 7, line 3": the line as the student sees it."""
    path = Path(path)
    try:
        cells = json.loads(path.with_name(path.name + CELL_MAP_SUFFIX).read_text("utf-8"))
        cell, line = cells["lines"][number - 1]
        return f"{cells['notebook']}, cell {cell}, line {line}"
    except (OSError, ValueError, KeyError, IndexError, TypeError):
        return f"{path.name}, line {number}"


def where(exc, student):
    """Where in the student's file (a module or its path) an exception was raised:
    " (backprop.py, line 42, in softmax_backward: dz = ...)", or "" when no frame of the
    traceback is in that file (a SyntaxError names its line in its own message)."""
    path = _student_path(student)
    if not path:
        # A notebook's namespace (the in-notebook check): Jupyter runs each cell from a
        # file of its own (ipykernel_<pid>/<hash>.py, or <ipython-input-...>).
        frames = [frame for frame in traceback.extract_tb(exc.__traceback__)
                  if "ipykernel_" in frame.filename or frame.filename.startswith("<ipython")]
        if not frames:
            return ""
        code = (frames[-1].line or "").strip()
        return (f" (your cell, line {frames[-1].lineno}, in {frames[-1].name}"
                f"{': ' + code if code else ''})")
    target = Path(path).resolve()
    # An error of the student's own process carries its frames as (file, line, function).
    frames = getattr(exc, "frames", None) if isinstance(exc, (StudentError, GradingLost)) \
        else [(f.filename, f.lineno, f.name) for f in traceback.extract_tb(exc.__traceback__)]
    frames = [frame for frame in frames if Path(frame[0]).resolve() == target]
    if not frames:
        return ""
    return place(target, frames[-1][1], frames[-1][2])


def place(path, number, function):
    """A line of the student's file as the grader names it: " (backprop.py, line 42, in
    softmax_backward: dz = ...)" (the code from linecache, as tracebacks show it)."""
    code = linecache.getline(str(path), number).strip()
    return f" ({located(path, number)}, in {function}{': ' + code if code else ''})"


def library_calls(student):
    """{graded function: the numpy_sae name it uses} for the student's functions that call
    numpy_sae's own code, or are numpy_sae's (imported by name). Works on a module and on
    a notebook's namespace alike: the names bound to numpy_sae objects, then each
    function's source (by ``ast``, imports inside it included). For a
    :class:`RemoteStudent`, :func:`_remote_library_calls`."""
    if isinstance(student, RemoteStudent):
        return _remote_library_calls(student)
    namespace = getattr(student, "_namespace", None)
    if namespace is None:
        namespace = vars(student)
    imported = {name for name, value in namespace.items() if _from_numpy_sae(value)}
    found = {}
    for _, name in GRADED:
        function = namespace.get(name)
        if function is None:
            continue
        if _from_numpy_sae(function):
            found[name] = name
            continue
        try:
            tree = ast.parse(textwrap.dedent(inspect.getsource(function)))
        except (OSError, TypeError, SyntaxError):
            continue
        used = _numpy_sae_names(tree, imported)
        if used:
            found[name] = used
    return found


def _numpy_sae_names(function, imported):
    """The first numpy_sae name a parsed function uses: one of the ``imported`` names it
    reads (not a local variable of the same name), or one it imports itself; or None."""
    inner, local = set(), set()
    for item in ast.walk(function):
        if isinstance(item, ast.Import):
            inner |= {(a.asname or a.name).split(".")[0] for a in item.names
                      if a.name.split(".")[0] == "numpy_sae"}
        elif isinstance(item, ast.ImportFrom) and item.level == 0 and item.module and \
                item.module.split(".")[0] == "numpy_sae":
            inner |= {a.asname or a.name for a in item.names}
        elif isinstance(item, ast.Name) and isinstance(item.ctx, ast.Store):
            local.add(item.id)
        elif isinstance(item, ast.arg):
            local.add(item.arg)
    read = {n.id for n in ast.walk(function) if isinstance(n, ast.Name)
            and isinstance(n.ctx, ast.Load)}
    used = (read & imported) - local
    return sorted(used or inner)[0] if used or inner else None


def _parsed(student):
    """The student's file parsed (cached on the RemoteStudent), or None."""
    if "_tree" not in vars(student):
        try:
            student._tree = ast.parse(Path(student.__file__).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError, SyntaxError, RecursionError):
            student._tree = None
    return student._tree


def _definition(student, name):
    """The ``def`` in the student's file that made the RemoteStudent's function ``name``
    (the one at the line its process reported), or None."""
    tree, line = _parsed(student), student.defined_in_file(name)
    if tree is None or line is None:
        return None
    return next((node for node in ast.walk(tree) if isinstance(node, ast.FunctionDef)
                 and node.name == name and (node.decorator_list[0].lineno
                                            if node.decorator_list else node.lineno) == line),
                None)


def _remote_library_calls(student):
    """library_calls for a student graded in its own process: the graded functions that
    are numpy_sae's (their module, as that process saw it), that use names the file's
    imports bind to numpy_sae (by ``ast``), or that loaded numpy_sae while they ran; when
    the file loaded numpy_sae without any import statement of it (``__import__``,
    importlib, a path), every one of its functions."""
    tree = _parsed(student)
    statements = [] if tree is None else [
        node for node in ast.walk(tree) if isinstance(node, (ast.Import, ast.ImportFrom))
        and any((node.module if isinstance(node, ast.ImportFrom) and node.level == 0 else
                 alias.name if isinstance(node, ast.Import) else "").split(".")[0] ==
                "numpy_sae" for alias in node.names)]
    imported = {(a.asname or a.name).split(".")[0] for node in statements for a in node.names}
    found = {}
    for _, name in GRADED:
        function = getattr(student, name, None)
        if function is None:
            continue
        module = getattr(function, "__module__", "") or ""
        node = _definition(student, name)
        if module.split(".")[0] == "numpy_sae":
            found[name] = name
        elif node is not None and _numpy_sae_names(node, imported):
            found[name] = _numpy_sae_names(node, imported)
        elif name in student.numpy_sae_calls:
            found[name] = "loaded while it ran"
        elif student.numpy_sae_at_import and not statements:
            found[name] = "loaded without an import statement: __import__, importlib or a path"
    return found


def _from_numpy_sae(value):
    """Whether a value is numpy_sae itself: one of its modules, or something defined in one."""
    module = value.__name__ if inspect.ismodule(value) else getattr(value, "__module__", None)
    return isinstance(module, str) and module.split(".")[0] == "numpy_sae"


def text_of(exc):
    """An exception's message, even when its own ``__str__`` fails."""
    try:
        return str(exc)
    except Exception as inner:
        return f"(its message could not be shown: {type(inner).__name__})"


def _status(student, module, name, outcome, state):
    """What the outcome of a pair's check means for one function of the pair."""
    if _is_stub(student, name):
        return "not started"
    own = _signature_problem(student, module, name)
    if own:
        return own
    if outcome.startswith("wrong signature"):
        return "not checked: the other function of its pair has the wrong signature"
    if outcome == "not started":
        if name.endswith("_forward") and state["stage"] == "backward":
            return "correct"  # its values were checked; only its backward is still to write
        return "not checked: it calls a function that is not started"
    is_forward, is_backward = name.endswith("_forward"), name.endswith("_backward")
    gradient_stage = state["stage"] == "backward" or outcome.startswith("wrong gradient")
    if is_forward:
        return "correct" if gradient_stage else outcome
    if is_backward and not gradient_stage:
        return "not checked until its forward is right"
    return outcome


def _is_stub(student, name):
    """Whether the student's function is missing, or its body (after the docstring) is still
    only ``raise NotImplementedError(...)``; the words elsewhere (a comment, a guard) do not
    count."""
    function = getattr(student, name, None)
    if function is None:
        return True
    if isinstance(student, RemoteStudent):
        node = _definition(student, name)
        return node is not None and is_stub_node(node)
    try:
        node = ast.parse(textwrap.dedent(inspect.getsource(function))).body[0]
    except (OSError, TypeError, SyntaxError):
        return False
    return is_stub_node(node)


def is_stub_node(node):
    """Whether a parsed function's body (after its docstring) is only ``raise
    NotImplementedError(...)``."""
    body = [statement for statement in node.body
            if not (isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Constant))]
    return (len(body) == 1 and isinstance(body[0], ast.Raise) and body[0].exc is not None
            and "NotImplementedError" in ast.unparse(body[0].exc))


def _signature_problem(student, module, name):
    """How the student's signature differs from the one the library calls, or None."""
    function = getattr(student, name, None)
    if function is None:
        return None
    try:
        theirs = inspect.signature(function).parameters
    except (TypeError, ValueError):
        return "not a function"
    missing = [p for p in inspect.signature(getattr(module, name)).parameters if p not in theirs]
    if missing:
        return (f"wrong signature: missing argument{'s' if len(missing) > 1 else ''} "
                f"{', '.join(missing)} (the library calls {name}"
                f"{inspect.signature(getattr(module, name))})")
    return None


# A level-1 hint for one wrong quantity, where the function's own hint is about another.
QUANTITY_HINTS = {
    ("dense_backward", "db"): "b is added to every row of the batch, so its gradient "
                              "collects dout from every row",
    ("meanstd_pool_backward", "dx through the mean"): "each frame holds 1/T of the mean",
    ("meanstd_pool_backward", "dx through the std"): "each frame's deviation x_t - mu moves "
                                                     "s, and s holds 1/T of the variance",
    ("softmax_cross_entropy", "dlogits"): "each logit moves the loss through its "
                                          "probability and, for the right class, through "
                                          "-log p[y] itself; then average over the batch",
}


def first_hint(g):
    """The level-1 hint for a failed grade: for a wrong shape the function's shapes hint
    (step 2: the shapes are the whole problem, and they give no formula), else the wrong
    quantity's own, else the function's rule."""
    if re.search(r": shape \(.*\), expected \(", g.status) and len(STEP_HINTS[g.function]) > 1:
        return STEP_HINTS[g.function][1]
    for (function, quantity), text in QUANTITY_HINTS.items():
        if g.function == function and f"wrong gradient: {quantity}" in g.status and \
                (quantity != "dx" or "through" not in g.status):
            return text
    return STEP_HINTS[g.function][0]


def format_grades(grades, max_hint=3, points=None):
    """The grade table: function, max relative error (blank where nothing was compared),
    points (of its weight in ``points``, {function: weight}, 1 for one not named), the
    whole status; under a failed function its first hint (``max_hint`` 0: none), under
    any function its notes and what it printed."""
    points = points or {}
    width = max(len(g.function) for g in grades)
    lines = [f"{'function':{width}}  {'max rel err':>11}  points  status"]
    for g in grades:
        error = "" if g.error is None else f"{g.error:.1e}"
        weight = points.get(g.function, 1)
        lines.append(f"{g.function:{width}}  {error:>11}  {weight * g.passed:>3g} / {weight:<3g}"
                     f"  {g.status}")
        if not g.passed and g.status != "not started" and max_hint >= 1:
            more = f" (more: --hint 2 {g.function})" if max_hint >= 2 else ""
            lines.append(f"{'':{width}}  hint: {first_hint(g)}{more}")
        if g.notes:
            lines.append(f"{'':{width}}  note: {g.notes}")
        if g.output:
            printed = g.output.rstrip("\n").replace("\n", f"\n{'':{width}}  | ")
            lines.append(f"{'':{width}}  printed:\n{'':{width}}  | {printed}")
    done = sum(g.passed for g in grades)
    lines.append(f"{done} of {len(grades)} function{'s' if len(grades) > 1 else ''} correct")
    return "\n".join(lines)


def hint(function, step):
    """The hints of ``function`` up to ``step`` (1: the rule, 2: shapes, 3: the formula)."""
    steps = (*STEP_HINTS[function], HINTS[function])
    return [f"{i}. {text}" for i, text in enumerate(steps[:max(1, min(step, 3))], start=1)]


def grades_as_dict(grades, points=None):
    """Machine-readable results: per function its status, points (its weight when correct,
    else 0), max points, max relative error (None where nothing was compared), first hint,
    notes and printed output. points : {function: weight}, 1 for a function not named."""
    points = points or {}
    rows = [{"function": g.function, "status": g.status,
             "points": points.get(g.function, 1) * int(g.passed),
             "max_points": points.get(g.function, 1),
             "max_relative_error": None if g.error is None or not np.isfinite(g.error)
             else float(g.error), "hint": first_hint(g), "notes": g.notes,
             "output": g.output} for g in grades]
    return {"functions": rows, "score": sum(r["points"] for r in rows),
            "max_score": sum(r["max_points"] for r in rows)}


@contextlib.contextmanager
def using(student):
    """Within the block, the library's layers, model and Adam run the student's functions."""
    from ..nn import layers
    saved = []

    def swap(owner, attribute, value):
        saved.append((owner, attribute, owner.__dict__[attribute]))
        setattr(owner, attribute, value)
    for _, name in GRADED + PROVIDED:
        if hasattr(student, name):
            owner = optim if name == "adam_step" else F
            swap(owner, name, getattr(student, name))
    if hasattr(student, "adam_step"):
        # Training runs the fused Adam; within the block it runs the student's step.
        swap(optim, "adam_step_fused", lambda p, g, m, v, t, lr, beta1, beta2, eps, tmp=None:
             student.adam_step(p, g, m, v, t, lr, beta1, beta2, eps))
    for cls, name in ((layers.Tanh, "tanh"), (layers.Sigmoid, "sigmoid"), (layers.ReLU, "relu"),
                      (layers.Softmax, "softmax")):
        swap(cls, "_forward", staticmethod(getattr(student, f"{name}_forward")))
        swap(cls, "_backward", staticmethod(getattr(student, f"{name}_backward")))
    try:
        yield
    finally:
        for owner, attribute, value in reversed(saved):
            setattr(owner, attribute, value)
