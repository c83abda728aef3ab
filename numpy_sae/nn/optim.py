"""Optimizers over ``name -> array`` dicts: SGD, SGD with momentum, Adam (and AdamW).

Each optimizer owns its state (step count, moments) and updates the parameter
arrays in place, so the arrays the layers hold stay the ones being trained.
They know nothing about layers or models: only matching keys of two dicts.
"""

import numpy as np


class Optimizer:
    """Base class: ``step(params, grads)`` updates every ``params[k]`` in place."""

    def __init__(self, lr):
        if not (lr > 0 and np.isfinite(lr)):
            raise ValueError(f"learning rate must be a positive number, got {lr!r}")
        self.lr = float(lr)
        self.t = 0
        # Parameter-name prefix -> factor on lr (0 freezes those parameters): a front end
        # can learn more slowly than the layers above it, or not at all for a while.
        self.lr_scales = {}

    def _lr(self, key):
        """The learning rate of parameter ``key``: lr times the factor of its prefix."""
        for prefix, scale in self.lr_scales.items():
            if key.startswith(prefix):
                return self.lr * scale
        return self.lr

    def step(self, params, grads):
        """Apply one update.

        Parameters
        ----------
        params : dict name -> ndarray, updated in place
        grads : dict name -> ndarray of the same shapes
        """
        if params.keys() != grads.keys():
            raise ValueError("params and grads must have the same keys")
        self.t += 1
        for key, p in params.items():
            # A frozen parameter (lr 0) is not moved, but Adam's moments still follow its
            # gradient, so their bias correction holds when it starts to learn.
            self._update(key, p, grads[key])

    def _update(self, key, p, g):
        raise NotImplementedError

    def state_dict(self):
        """Everything needed to resume: {"t": int, "<slot>/<key>": array}."""
        state = {"t": self.t}
        for slot in self._slots():
            for key, value in getattr(self, slot).items():
                state[f"{slot}/{key}"] = value
        return state

    def load_state_dict(self, state):
        """Restore what :meth:`state_dict` returned (arrays are copied)."""
        self.t = int(state["t"])
        for slot in self._slots():
            table = getattr(self, slot)
            table.clear()
            prefix = slot + "/"
            for name, value in state.items():
                if name.startswith(prefix):
                    table[name[len(prefix):]] = np.array(value)

    def _slots(self):
        return ()


class SGD(Optimizer):
    """Plain gradient descent: p <- p - lr * g."""

    def _update(self, key, p, g):
        p -= self._lr(key) * g


class Momentum(Optimizer):
    """SGD with (heavy-ball) momentum.

    Notes
    -----
    velocity <- momentum * velocity - lr * g;  p <- p + velocity
    (named in full: in Adam, v is the second moment, and in pooling mu is the mean)
    """

    def __init__(self, lr, momentum=0.9):
        super().__init__(lr)
        if not 0.0 <= momentum < 1.0:
            raise ValueError(f"momentum must be in [0, 1), got {momentum!r}")
        self.momentum = float(momentum)
        self.velocity = {}

    def _slots(self):
        return ("velocity",)

    def _update(self, key, p, g):
        velocity = self.velocity.get(key)
        if velocity is None:
            velocity = self.velocity[key] = np.zeros_like(p)
        velocity[...] = self.momentum * velocity - self._lr(key) * g
        p += velocity


class Adam(Optimizer):
    """Adam with bias correction, and optional decoupled weight decay (AdamW).

    Parameters
    ----------
    lr : float
    beta1, beta2 : float
        Decay rates of the first and second moment estimates.
    eps : float
    weight_decay : float
        Decoupled decay (Loshchilov & Hutter): p <- p - lr * weight_decay * p,
        applied to weight matrices (ndim >= 2) only, never to biases.
    no_decay : tuple of str
        Parameter names starting with one of these are never decayed toward zero (a
        filterbank front end is held near its start by its own L2-SP penalty instead).

    Notes
    -----
    t <- t + 1
    m <- beta1 m + (1 - beta1) g
    v <- beta2 v + (1 - beta2) g**2
    m_hat = m / (1 - beta1**t),  v_hat = v / (1 - beta2**t)
    p <- p - lr * m_hat / (sqrt(v_hat) + eps)
    """

    def __init__(self, lr=1e-4, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0,
                 no_decay=()):
        super().__init__(lr)
        for name, value in (("beta1", beta1), ("beta2", beta2)):
            if not 0.0 <= value < 1.0:
                raise ValueError(f"{name} must be in [0, 1), got {value!r}")
        if weight_decay < 0:
            raise ValueError(f"weight_decay must be >= 0, got {weight_decay!r}")
        self.beta1, self.beta2, self.eps = float(beta1), float(beta2), float(eps)
        self.weight_decay = float(weight_decay)
        self.no_decay = tuple(no_decay)
        self.m, self.v = {}, {}
        self._scratch = {}

    def _slots(self):
        return ("m", "v")

    def _update(self, key, p, g):
        if key not in self.m:
            self.m[key], self.v[key] = np.zeros_like(p), np.zeros_like(p)
        if key not in self._scratch:
            # One scratch array per parameter: the update allocates nothing.
            self._scratch[key] = np.empty_like(p)
        if self.weight_decay and p.ndim >= 2 and not key.startswith(self.no_decay):
            p *= 1.0 - self._lr(key) * self.weight_decay          # AdamW: decay weights only
        adam_step_fused(p, g, self.m[key], self.v[key], self.t, self._lr(key), self.beta1,
                        self.beta2, self.eps, self._scratch[key])


def adam_step(p, g, m, v, t, lr, beta1=0.9, beta2=0.999, eps=1e-8):
    """One Adam update of a parameter array, in place.

    Parameters
    ----------
    p : ndarray, the parameter (updated in place)
    g : ndarray, its gradient, shape of p
    m, v : ndarray, the first and second moment estimates, shape of p (updated in place)
    t : int >= 1, the step number (after this step's increment)
    lr, beta1, beta2, eps : float

    Notes
    -----
    m <- beta1 m + (1 - beta1) g;  v <- beta2 v + (1 - beta2) g**2
    m_hat = m / (1 - beta1**t);  v_hat = v / (1 - beta2**t)
    p <- p - lr * m_hat / (sqrt(v_hat) + eps)
    """
    # p, m and v are updated in place: the layers and the optimizer hold these arrays.
    m[...] = beta1 * m + (1 - beta1) * g
    v[...] = beta2 * v + (1 - beta2) * g**2
    m_hat = m / (1 - beta1**t)
    v_hat = v / (1 - beta2**t)
    p -= lr * m_hat / (np.sqrt(v_hat) + eps)


def adam_step_fused(p, g, m, v, t, lr, beta1=0.9, beta2=0.999, eps=1e-8, tmp=None):
    """:func:`adam_step` with one scratch array instead of five temporaries: what training
    runs. Equal to it (tested); ``python benchmarks/benchmark.py --adam`` prints what it buys.

    tmp : ndarray of p's shape for scratch, or None to allocate one
    """
    tmp = np.empty_like(p) if tmp is None else tmp
    # Plain Python floats for the scalars: a NumPy float64 scalar would make NumPy run
    # these float32 in-place operations in float64 and cast back (1.4x slower).
    lr, beta1, beta2, eps = float(lr), float(beta1), float(beta2), float(eps)
    m *= beta1
    m += np.multiply(g, 1.0 - beta1, out=tmp)
    v *= beta2
    v += np.multiply(np.square(g, out=tmp), 1.0 - beta2, out=tmp)
    # tmp holds v_hat, then sqrt(v_hat) + eps, then the step; m_hat is folded into lr.
    np.divide(v, 1.0 - beta2 ** t, out=tmp)
    np.sqrt(tmp, out=tmp)
    tmp += eps
    np.divide(m, tmp, out=tmp)
    tmp *= lr / (1.0 - beta1 ** t)
    p -= tmp


OPTIMIZERS = {"adam": Adam, "sgd": SGD, "momentum": Momentum}


def make_optimizer(name="adam", lr=1e-3, weight_decay=0.0, momentum=0.9, no_decay=()):
    """An optimizer by name: "adam" (with optional decoupled weight decay, not on the
    parameters named by the ``no_decay`` prefixes), "sgd", "momentum"."""
    if name not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {name!r}; choose from {', '.join(OPTIMIZERS)}")
    if name == "adam":
        return Adam(lr=lr, weight_decay=weight_decay, no_decay=no_decay)
    if weight_decay:
        raise ValueError(f"weight decay is implemented for adam only, not {name}")
    return Momentum(lr, momentum) if name == "momentum" else SGD(lr)
