"""Pictures of a network learning: saturation, gradient norms and update sizes, per layer.

:class:`TrainingDiagnostics` is a callback for ``Trainer.fit(on_epoch_end=...)``.
After every epoch it runs a fixed probe batch through the network and records,
for every hidden layer, a histogram of its activations and the share of
saturated units (tanh or sigmoid beyond |0.97| of their range; a ReLU never
saturates: its share of units at exactly 0, "inactive", is recorded apart),
and for every weight matrix the norm of its gradient on the probe batch and
the size of the last epoch's update relative to the weights (||W_new - W_old||
/ ||W_old||). A layer has one name everywhere: "encoder.0" is the first dense
layer's weights ("encoder.0.W") and the activation that follows them.
"""

import numpy as np

from .nn.layers import ReLU, Sigmoid, Tanh

SATURATION = 0.97
BINS = 20


def flat_share(layer, out):
    """Share of a layer's outputs (N, D) that are saturated, where the derivative of a
    squashing function (almost) vanishes: tanh |out| > 0.97, sigmoid |2 out - 1| > 0.97
    (the same, rescaled). NaN for a ReLU, which does not saturate, and the identity."""
    if isinstance(layer, Tanh):
        return float(np.mean(np.abs(out) > SATURATION))
    if isinstance(layer, Sigmoid):
        return float(np.mean(np.abs(2 * out - 1) > SATURATION))
    return float("nan")


def inactive_share(layer, out):
    """Share of a ReLU layer's outputs (N, D) at exactly 0 (no gradient passes them for
    this input; not saturation: a positive input brings them back). NaN for other layers."""
    return float(np.mean(out == 0)) if isinstance(layer, ReLU) else float("nan")


def _histogram(layer, out):
    low, high = (0.0, 1.0) if isinstance(layer, Sigmoid) else (-1.0, 1.0)
    if isinstance(layer, ReLU):
        low, high = 0.0, max(float(out.max()), 1e-6)
    counts, _ = np.histogram(out, bins=BINS, range=(low, high))
    return {"range": [low, high], "counts": counts.tolist()}


class TrainingDiagnostics:
    """Per-layer, per-epoch records of a network in training; a Trainer callback.

    Parameters
    ----------
    x_probe : (N, input_dim), y_probe : (N,), a fixed batch the records are taken on

    Attributes
    ----------
    records : dict name -> dict of per-epoch lists: "saturation" (tanh, sigmoid) or
        "inactive" (ReLU) and "histogram" for a layer's activations, named after the
        dense layer they follow ("encoder.0"), and "gradient_norm" and "update_ratio"
        for its weights ("encoder.0.W"); "epochs" lists the epochs recorded (0 is the
        initial network, before any update).
    """

    def __init__(self, x_probe, y_probe):
        self.x_probe, self.y_probe = x_probe, y_probe
        self.records = {"epochs": []}
        self._previous = None

    def start(self, network):
        """Record the untrained network (epoch 0); called by the first epoch if not before."""
        self._record(network, 0)

    def __call__(self, trainer):
        if not self.records["epochs"]:
            raise RuntimeError("call start(network) before training, to record epoch 0")
        self._record(trainer.model, trainer.epoch)

    def _record(self, network, epoch):
        self.records["epochs"].append(epoch)
        z = network.standardized(self.x_probe)
        code = None
        for part in network._parts:
            # The encoder (or a plain classifier) reads the input; the heads read the code.
            x = code if network.reconstructs and part != "encoder" else z
            for i, layer in enumerate(getattr(network, part).layers):
                x = layer.forward(x)
                if not isinstance(layer, (Tanh, Sigmoid, ReLU)):
                    continue  # dense layers and the identity have no flat region
                kind, share = (("inactive", inactive_share(layer, x)) if isinstance(layer, ReLU)
                               else ("saturation", flat_share(layer, x)))
                # An activation is named after the dense layer before it: "encoder.0" for
                # the output of encoder.0.W, as the weight records are.
                entry = self.records.setdefault(f"{part}.{i - 1}", {kind: [], "histogram": []})
                entry[kind].append(share)
                entry["histogram"].append(_histogram(layer, x))
            if part == "encoder":
                code = x
        _, grads, _ = network.loss_and_gradients(self.x_probe, self.y_probe)
        weights = {k: v for k, v in network.parameters().items() if k.endswith(".W")}
        for name, W in weights.items():
            entry = self.records.setdefault(name, {"gradient_norm": [], "update_ratio": []})
            entry["gradient_norm"].append(float(np.linalg.norm(grads[name])))
            before = None if self._previous is None else self._previous[name]
            entry["update_ratio"].append(
                float("nan") if before is None else
                float(np.linalg.norm(W - before) / max(np.linalg.norm(before), 1e-12)))
        self._previous = {k: v.copy() for k, v in weights.items()}

    def layers(self, key):
        """Names of the layers that have records of ``key`` (e.g. "saturation"), in order."""
        return [name for name, entry in self.records.items()
                if isinstance(entry, dict) and key in entry]
