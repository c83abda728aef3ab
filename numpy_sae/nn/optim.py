"""Optimizers over ``name -> array`` dicts: SGD, SGD with momentum, Adam (and AdamW).

Each optimizer owns its state (step count, moments) and updates the parameter
arrays in place, so the arrays the layers hold stay the ones being trained.
They know nothing about layers or models: only matching keys of two dicts.
"""

import math

import numpy as np


class Optimizer:
    """Base class: ``step(params, grads)`` updates every ``params[k]`` in place."""

    def __init__(self, lr):
        if not (lr > 0 and np.isfinite(lr)):
            raise ValueError(f"learning rate must be a positive number, got {lr!r}")
        self.lr = float(lr)
        self.t = 0

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
        p -= self.lr * g


class Momentum(Optimizer):
    """SGD with (heavy-ball) momentum.

    Notes
    -----
    v <- mu * v - lr * g;  p <- p + v
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
        v = self.velocity.get(key)
        if v is None:
            v = self.velocity[key] = np.zeros_like(p)
        v *= self.momentum
        v -= self.lr * g
        p += v


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

    Notes
    -----
    t <- t + 1
    m <- beta1 m + (1 - beta1) g
    v <- beta2 v + (1 - beta2) g**2
    m_hat = m / (1 - beta1**t),  v_hat = v / (1 - beta2**t)
    p <- p - lr * m_hat / (sqrt(v_hat) + eps)
    """

    def __init__(self, lr=1e-4, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0):
        super().__init__(lr)
        for name, value in (("beta1", beta1), ("beta2", beta2)):
            if not 0.0 <= value < 1.0:
                raise ValueError(f"{name} must be in [0, 1), got {value!r}")
        if weight_decay < 0:
            raise ValueError(f"weight_decay must be >= 0, got {weight_decay!r}")
        self.beta1, self.beta2, self.eps = float(beta1), float(beta2), float(eps)
        self.weight_decay = float(weight_decay)
        self.m, self.v = {}, {}
        self._scratch = {}

    def _slots(self):
        return ("m", "v")

    def _update(self, key, p, g):
        m = self.m.get(key)
        if m is None:
            m = self.m[key] = np.zeros_like(p)
            self.v[key] = np.zeros_like(p)
        v = self.v[key]
        # One scratch buffer per parameter keeps the update free of temporaries.
        tmp = self._scratch.get(key)
        if tmp is None or tmp.shape != p.shape:
            tmp = self._scratch[key] = np.empty_like(p)
        b1, b2 = self.beta1, self.beta2
        m *= b1
        np.multiply(g, 1.0 - b1, out=tmp)
        m += tmp
        v *= b2
        np.multiply(g, g, out=tmp)
        tmp *= 1.0 - b2
        v += tmp
        # Fold both bias corrections into one step size and one eps:
        # lr * m_hat / (sqrt(v_hat) + eps) = step * m / (sqrt(v) + eps * sqrt(1 - b2**t)).
        # math.sqrt keeps these plain Python floats: a NumPy float64 scalar would make
        # NumPy run the float32 in-place operations below in float64 and cast back.
        correction2 = math.sqrt(1.0 - b2 ** self.t)
        step = self.lr * correction2 / (1.0 - b1 ** self.t)
        if self.weight_decay and p.ndim >= 2:
            p *= 1.0 - self.lr * self.weight_decay
        np.sqrt(v, out=tmp)
        tmp += self.eps * correction2
        np.divide(m, tmp, out=tmp)
        tmp *= step
        p -= tmp


OPTIMIZERS = {"adam": Adam, "sgd": SGD, "momentum": Momentum}
