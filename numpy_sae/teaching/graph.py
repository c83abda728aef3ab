"""The computational graph of a small softmax autoencoder, with every value and gradient.

:func:`joint_graph` runs one forward and one backward pass of a
:class:`~numpy_sae.nn.model.SoftmaxAutoencoderNetwork` with no hidden encoder layer
(x -> tanh code -> linear decoder, code -> classifier) through its own layers, keeping
each node's value and dL/d(node); :func:`plot_graph` draws them as boxes and arrows with
matplotlib's object API (no global backend is changed). The picture's point is the code
node: its gradient is the sum of what flows back from the decoder and from the
classifier (micrograd's ``+=``).
"""

from collections import namedtuple

import numpy as np

from ..nn import functional as F

Node = namedtuple("Node", ["name", "value", "grad", "position", "note"])


def joint_graph(model, x, y):
    """Nodes and edges of one forward/backward pass of a one-layer-encoder joint model.

    Parameters
    ----------
    model : SoftmaxAutoencoderNetwork with ``encoder_hidden=()`` and a classifier of one
        hidden layer (e.g. the walkthrough's model), standardization identity
    x : ndarray (N, input_dim); y : ndarray of int (N,)

    Returns
    -------
    nodes : dict name -> Node (value and dL/d(value) as arrays; loss nodes hold floats)
    edges : list of (from, to) names, in the forward direction
    """
    # Layers named after their weights, as in the walkthrough: encoder_0 holds encoder.0.W.
    encoder_0, encoder_1 = model.encoder.layers
    decoder_0 = model.decoder.layers[0]
    classifier_0, classifier_1, classifier_2 = model.classifier.layers[:3]
    gamma = model.gamma
    a = encoder_0.forward(x)
    code = encoder_1.forward(a)
    x_hat = decoder_0.forward(code)
    h = classifier_1.forward(classifier_0.forward(code))
    logits = classifier_2.forward(h)
    rec, dx_hat = F.sum_squared_error(x_hat, x)
    ce, dlogits = F.softmax_cross_entropy(logits, y)
    total, dx_hat, dlogits = F.joint_loss(rec, dx_hat, ce, dlogits, gamma)
    dh = classifier_2.backward(dlogits)
    from_classifier = classifier_0.backward(classifier_1.backward(dh))
    from_decoder = decoder_0.backward(dx_hat)
    dcode = F.fanout_backward(from_decoder, from_classifier)
    da = encoder_1.backward(dcode)
    encoder_0.backward(da)
    # Top to bottom in the forward direction, three lanes: the classifier's on the left,
    # the encoder's in the middle, the decoder's on the right (:func:`_at` places them).
    nodes = {
        "x": Node("x", x, None, _at(1, 0), "input (data: no gradient)"),
        "encoder.0.W": Node("encoder.0.W", encoder_0.params["W"], encoder_0.grads["W"],
                            _at(0, 0), ""),
        "a": Node("a", a, da, _at(1, 1), "x @ encoder.0.W + encoder.0.b"),
        "code": Node("code", code, dcode, _at(1, 2), "tanh(a)"),
        "decoder.0.W": Node("decoder.0.W", decoder_0.params["W"], decoder_0.grads["W"],
                            _at(2, 1), ""),
        "x_hat": Node("x_hat", x_hat, dx_hat, _at(2, 3), "code @ decoder.0.W + decoder.0.b"),
        "L_rec": Node("L_rec", rec, gamma, _at(2, 4), "sum of squares / N"),
        "h": Node("h", h, dh, _at(0, 3), "tanh(code @ classifier.0.W\n + classifier.0.b)"),
        "logits": Node("logits", logits, dlogits, _at(0, 4),
                       "h @ classifier.2.W\n + classifier.2.b"),
        "L_ce": Node("L_ce", ce, 1 - gamma, _at(0, 5), "cross-entropy"),
        "L": Node("L", total, 1.0, _at(1, 5), f"{gamma:g} L_rec + {1 - gamma:g} L_ce"),
    }
    nodes["code"] = nodes["code"]._replace(
        note=f"tanh(a)\ndL/dcode = decoder's {_short(from_decoder)}\n"
             f"+ classifier's {_short(from_classifier)}")
    edges = [("x", "a"), ("encoder.0.W", "a"), ("a", "code"), ("code", "x_hat"),
             ("decoder.0.W", "x_hat"),
             ("x_hat", "L_rec"), ("code", "h"), ("h", "logits"), ("logits", "L_ce"),
             ("L_rec", "L"), ("L_ce", "L")]
    return nodes, edges


# The drawing's grid in inches (1 data unit = 1 inch at the figure's size): three lanes,
# six rows, so the figure stays readable at a notebook's width.
LANE_X, ROW_HEIGHT, WIDTH, HEIGHT = (1.7, 4.95, 8.2), 1.2, 10.0, 7.4


def _at(lane, row):
    """The centre of a box in lane 0, 1 or 2 (left to right) and row ``row`` (top: 0)."""
    return (LANE_X[lane], HEIGHT - 0.85 - row * ROW_HEIGHT)


def _short(value):
    """The first row of an array, two decimals; a float as itself."""
    value = np.asarray(value, dtype=np.float64)
    row = value if value.ndim < 2 else value[0]
    return np.array2string(np.atleast_1d(row), precision=2, suppress_small=True,
                           floatmode="fixed", max_line_width=40)


def plot_graph(nodes, edges, path=None, title="one forward and backward pass"):
    """Draw the graph: each box shows a node's value (first row) and dL/d(node); the code
    node, where the two heads' gradients add, is highlighted. Returns the Figure; with
    ``path`` it is also written there (the format from the file's suffix)."""
    from matplotlib.figure import Figure  # the object API: no pyplot, no backend change
    fig = Figure(figsize=(WIDTH, HEIGHT))
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_axis_off()
    ax.set_xlim(0, WIDTH)
    ax.set_ylim(0, HEIGHT)
    boxes = {}
    for node in nodes.values():
        text = f"{node.name}  {np.shape(node.value)}\nvalue {_short(node.value)}"
        if node.grad is not None:
            wrt = f"({node.name})" if "." in node.name else node.name
            text += f"\ndL/d{wrt} {_short(node.grad)}"
        if node.note:
            text += f"\n{node.note}"
        highlight = node.name == "code"
        boxes[node.name] = ax.text(
            *node.position, text, ha="center", va="center", fontsize=9, family="monospace",
            bbox={"boxstyle": "round", "facecolor": "#ffe9a8" if highlight else "#eef3fb",
                  "edgecolor": "#c98a00" if highlight else "#5878a8"})
    for start, end in edges:
        # Arrows run from box edge to box edge: the text boxes are the patches to clip at.
        ax.annotate("", xy=nodes[end].position, xytext=nodes[start].position,
                    arrowprops={"arrowstyle": "-|>", "color": "0.45", "shrinkA": 4,
                                "shrinkB": 4, "patchA": boxes[start].get_bbox_patch(),
                                "patchB": boxes[end].get_bbox_patch()})
    ax.text(WIDTH / 2, HEIGHT - 0.2, f"{title}: the code's gradient is the sum of both "
            "heads' (highlighted)", ha="center", va="top", fontsize=11)
    if path is not None:
        fig.savefig(path, dpi=100, bbox_inches="tight")
    return fig
