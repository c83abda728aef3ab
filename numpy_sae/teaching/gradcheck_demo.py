"""Classroom tools: break a backward pass on purpose and watch the gradient check catch it.

Each bug in :data:`BUGS` is a context manager that swaps one piece of the real
backward pass for a classic mistake (the library code itself is not copied),
so the check runs on exactly the code students read, minus one line of it.
"""

import contextlib

import numpy as np

from ..nn import functional as F
from ..nn.gradcheck import check_model
from ..nn.layers import Tanh
from ..nn.model import SoftmaxAutoencoderNetwork


@contextlib.contextmanager
def _patched(obj, name, value):
    """Set ``obj.name = value`` for the duration of a with-block, then restore it exactly."""
    own = vars(obj)
    had_own, original = name in own, own.get(name)  # the raw staticmethod, not a bound function
    setattr(obj, name, value)
    try:
        yield
    finally:
        if had_own:
            setattr(obj, name, original)
        else:
            delattr(obj, name)


def _no_tanh_derivative(model):
    # dx = dout instead of dout * (1 - out**2): the chain rule loses the activation.
    return _patched(Tanh, "_backward", staticmethod(lambda dout, cache: dout))


def _forget_classifier_at_code(model):
    # The classifier still computes its own gradients but its dcode never reaches the
    # encoder: the encoder then learns from the reconstruction alone.
    original = model.classifier.backward

    def backward(dout):
        original(dout)  # fills the classifier's own gradients as usual
        return np.zeros((len(dout), model.code_dim), dtype=dout.dtype)
    return _patched(model.classifier, "backward", backward)


def _forget_batch_mean(model):
    # dlogits = p - onehot instead of (p - onehot) / N: the loss averages, the gradient sums.
    original = F.softmax_cross_entropy

    def wrong(logits, y):
        loss, dlogits = original(logits, y)
        return loss, dlogits * len(y)
    return _patched(F, "softmax_cross_entropy", wrong)


def _bias_mean(model):
    # db = mean of dout over the batch instead of its sum.
    original = F.dense_backward

    def wrong(dout, cache, need_dx=True):
        dx, dW, db = original(dout, cache, need_dx)
        return dx, dW, db / len(dout)
    return _patched(F, "dense_backward", wrong)


BUGS = {
    "tanh-derivative": (_no_tanh_derivative, "tanh backward forgets (1 - out**2)"),
    "code-sum": (_forget_classifier_at_code,
                 "the classifier's gradient is not added at the code layer"),
    "batch-mean": (_forget_batch_mean, "the cross-entropy gradient forgets the 1/N"),
    "bias-sum": (_bias_mean, "db averages dout over the batch instead of summing it"),
}


def small_model(gamma=0.9, dtype=np.float64, seed=0):
    """A model small enough to check every entry: 12 -> 10 -> 8 -> 4 code, 3 classes."""
    return SoftmaxAutoencoderNetwork(input_dim=12, n_classes=3, code_dim=4, encoder_hidden=(10, 8),
                                     classifier_hidden=6, gamma=gamma, dtype=dtype, seed=seed)


def gradcheck_table(size="small", entries=8, gamma=0.9, dtype="float64", bug=None, seed=0):
    """Run the check; return (report dict, bound, text table).

    The study-sized model samples ``entries`` entries per tensor. Its loss is
    about 450 (500 squared errors), so a centered difference carries about
    1e-9 of absolute round-off in float64 against gradients as small as 1e-5:
    the bound there is 1e-4 instead of the small model's 1e-6.
    """
    if bug is not None and bug not in BUGS:
        raise ValueError(f"unknown bug {bug!r}; choose from {', '.join(BUGS)}")
    rng = np.random.default_rng(seed)
    dtype = np.dtype(dtype)
    if size == "small":
        model, bound, n = small_model(gamma, dtype, seed), 1e-6, None
    elif size == "study":
        model, bound, n = SoftmaxAutoencoderNetwork(gamma=gamma, dtype=dtype, seed=seed), 1e-4, entries
    else:
        raise ValueError(f"size must be 'small' or 'study', got {size!r}")
    x = rng.standard_normal((4, model.input_dim)).astype(dtype)
    y = rng.integers(0, model.n_classes, size=4)
    context = BUGS[bug][0](model) if bug else contextlib.nullcontext()
    with context:
        report = check_model(model, x, y, n_entries=n, rng=rng)
    lines = [f"{'parameter':16} {'shape':>11} {'checked':>8} {'max rel error':>14}  result"]
    for name, r in report.items():
        verdict = "pass" if r["max_rel_error"] < bound else "FAIL"
        lines.append(f"{name:16} {str(r['shape']):>11} {r['checked']:>8} "
                     f"{r['max_rel_error']:>14.2e}  {verdict}")
    return report, bound, "\n".join(lines)


def run_gradcheck_demo(size="small", entries=8, gamma=0.9, dtype="float64", bug=None, seed=0,
                       out=print):
    """Print the table and a verdict; return 0 when every tensor passes, 1 otherwise."""
    out(f"gradient check: {size} model, gamma {gamma:g}, {dtype}"
        + (f", with a bug on purpose: {BUGS[bug][1]}" if bug in BUGS else ""))
    report, bound, table = gradcheck_table(size, entries, gamma, dtype, bug, seed)
    out(table)
    failed = [k for k, r in report.items() if r["max_rel_error"] >= bound]
    if failed:
        out(f"{len(failed)} of {len(report)} tensors exceed the bound {bound:g}: "
            f"{', '.join(failed)}")
        if dtype == "float32":
            out("float32 keeps ~7 digits: a difference of two losses 2e-5 apart loses most of "
                "them to rounding, so float32 checks fail even for correct code. Check in float64.")
        return 1
    out(f"all {len(report)} tensors agree with centered differences (bound {bound:g})")
    return 0
