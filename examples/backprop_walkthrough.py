"""Backpropagation through a tiny softmax autoencoder, every number shown, top to bottom.

A 4-input network with a 3-unit tanh code, a linear decoder and a 2-class
classifier (one 2-unit tanh hidden layer), on 2 examples, with weights rounded
to multiples of 0.05 so the arithmetic can be followed by hand. Every number
comes from the library's own layers and loss functions, called one at a time;
at the end they are compared with ``model.loss_and_gradients`` and with
centered differences, the graph is drawn, and one Adam step is shown.

Each weight has one name everywhere: the model's own (``encoder.0.W`` is the
weight of layer 0 of the encoder), and the layer objects below are named after
it (``encoder_0``). Run it as a script (``python examples/backprop_walkthrough.py``)
or as the notebook made from it (``examples/notebooks/``).
"""

import numpy as np

from numpy_sae.nn import functional as F
from numpy_sae.nn.gradcheck import numerical_gradient, relative_error
from numpy_sae.nn.model import SoftmaxAutoencoderNetwork
from numpy_sae.nn.optim import Adam

np.set_printoptions(precision=4, suppress=True, floatmode="fixed", linewidth=100)


def build():
    """The tiny model with round weights, and its two examples."""
    model = SoftmaxAutoencoderNetwork(input_dim=4, n_classes=2, code_dim=3, encoder_hidden=(),
                                      classifier_hidden=2, gamma=0.9, dtype=np.float64, seed=7)
    for p in model.parameters().values():
        p[...] = np.round(p * 2, 1) / 2 if p.ndim == 2 else 0.1  # round W, bias 0.1
    x = np.array([[0.5, -1.0, 0.3, 0.8], [-0.2, 0.4, 1.0, -0.6]])
    y = np.array([0, 1])
    return model, x, y


def show(name, value, formula=""):
    # + 0.0 turns the -0.0 of a tiny negative number, rounded, into 0.0
    text = np.array2string(np.round(np.asarray(value, dtype=float), 4) + 0.0)
    print(f"  {name}  shape {np.shape(value)}{'  = ' + formula if formula else ''}")
    print("    " + text.replace("\n", "\n    "))


# %% [markdown]
# ## The model
#
# Four inputs go to a 3-unit tanh **code**; the code feeds two heads: a linear
# **decoder** back to 4 outputs, and a **classifier** (2 tanh units, then 2 logits).
# With $N = 2$ examples and $\gamma = 0.9$ the loss is
#
# $$L = \gamma \, \frac{1}{N}\sum_n \lVert x_n - \hat x_n \rVert^2
#     + (1 - \gamma)\, \frac{1}{N}\sum_n -\log p_{n, y_n}.$$
#
# The layers are named after their weights: `encoder_0` holds `encoder.0.W` and
# `encoder.0.b`, `classifier_2` holds `classifier.2.W`.

# %%
model, x, y = build()
encoder_0, encoder_1 = model.encoder.layers              # Dense, Tanh
decoder_0, decoder_1 = model.decoder.layers              # Dense, Identity (linear output)
classifier_0, classifier_1, classifier_2, classifier_3 = model.classifier.layers
gamma = model.gamma                                      # Dense, Tanh, Dense, Identity

# %% [markdown]
# ## The weights and the two examples
#
# Rounded to multiples of 0.05 so you can follow by hand; every bias is 0.1.

# %%
for name, p in model.parameters().items():
    if p.ndim == 2:
        show(name, p)
show("x", x)
print(f"  y = {y.tolist()}  (class of each example)")


# %% [markdown]
# ## Forward pass
#
# $$a = x\,W_{\mathrm{encoder.0}} + b, \quad \mathrm{code} = \tanh(a), \quad
# \hat x = \mathrm{code}\,W_{\mathrm{decoder.0}} + b,$$
# $$h = \tanh(\mathrm{code}\,W_{\mathrm{classifier.0}} + b), \quad
# \mathrm{logits} = h\,W_{\mathrm{classifier.2}} + b, \quad p = \mathrm{softmax}(\mathrm{logits}).$$

# %%
a = encoder_0.forward(x)
show("a = x @ encoder.0.W + encoder.0.b", a, "pre-activation of the code")
code = encoder_1.forward(a)
show("code = tanh(a)", code)
x_hat = decoder_1.forward(decoder_0.forward(code))
show("x_hat = code @ decoder.0.W + decoder.0.b", x_hat, "the reconstruction (linear output)")
h_pre = classifier_0.forward(code)
h = classifier_1.forward(h_pre)
show("h = tanh(code @ classifier.0.W + classifier.0.b)", h, "classifier hidden layer")
logits = classifier_3.forward(classifier_2.forward(h))
show("logits = h @ classifier.2.W + classifier.2.b", logits)
probs, _ = F.softmax_forward(logits)
show("p = softmax(logits)", probs)


# %% [markdown]
# ## The two losses and the joint loss

# %%
rec, dx_hat = F.sum_squared_error(x_hat, x)
per_example = np.sum((x - x_hat) ** 2, axis=1)
print(f"  reconstruction = mean_n ||x_n - x_hat_n||^2 = mean({per_example.round(4).tolist()})"
    f" = {rec:.6f}")
ce, dlogits = F.softmax_cross_entropy(logits, y)
print(f"  cross-entropy  = mean_n -log p_n[y_n] = mean({(-np.log(probs[[0, 1], y])).round(4).tolist()})"
    f" = {ce:.6f}")
total = gamma * rec + (1 - gamma) * ce
print(f"  L = gamma * reconstruction + (1 - gamma) * cross-entropy = 0.9 * {rec:.4f} + 0.1 * "
    f"{ce:.4f} = {total:.6f}")


# %% [markdown]
# ## Backward pass, where the two gradients add at the code
#
# The graph runs in reverse. Each head first gets its share of the loss:
# $\partial L/\partial \hat x = \gamma \cdot 2(\hat x - x)/N$ and
# $\partial L/\partial\,\mathrm{logits} = (1-\gamma)(p - \mathrm{onehot}(y))/N$.
# A dense layer $y = xW + b$ hands back $dx = \mathrm{dout}\,W^\top$ and keeps
# $dW = x^\top \mathrm{dout}$, $db = \sum_n \mathrm{dout}_n$; tanh multiplies by
# $1 - \mathrm{out}^2$. The code feeds both heads, so **its gradient is the sum of the
# two** (the chain rule for a value used twice):
#
# $$\frac{\partial L}{\partial\,\mathrm{code}} = \mathrm{dcode}_{\mathrm{decoder}}
#   + \mathrm{dcode}_{\mathrm{classifier}}.$$

# %%
dx_hat = gamma * dx_hat
show("dL/dx_hat", dx_hat, "gamma * 2 (x_hat - x) / N")
dcode_from_decoder = decoder_0.backward(decoder_1.backward(dx_hat))
show("dL/d decoder.0.W", decoder_0.grads["W"], "code.T @ dL/dx_hat")
show("dL/d decoder.0.b", decoder_0.grads["b"], "sum over examples of dL/dx_hat")
show("dcode (from the decoder)", dcode_from_decoder, "dL/dx_hat @ decoder.0.W.T")
dlogits = (1 - gamma) * dlogits
show("dL/dlogits", dlogits, "(1 - gamma) (p - onehot(y)) / N")
dh = classifier_2.backward(classifier_3.backward(dlogits))
show("dL/d classifier.2.W", classifier_2.grads["W"], "h.T @ dL/dlogits")
show("dL/dh", dh, "dL/dlogits @ classifier.2.W.T")
dh_pre = classifier_1.backward(dh)
show("dL/d(h_pre)", dh_pre, "dL/dh * (1 - h**2)")
dcode_from_classifier = classifier_0.backward(dh_pre)
show("dL/d classifier.0.W", classifier_0.grads["W"], "code.T @ dL/d(h_pre)")
show("dcode (from the classifier)", dcode_from_classifier, "dL/d(h_pre) @ classifier.0.W.T")
dcode = dcode_from_decoder + dcode_from_classifier
show("dL/dcode", dcode, "dcode (decoder) + dcode (classifier): the two heads add")
da = encoder_1.backward(dcode)
show("dL/da", da, "dL/dcode * (1 - code**2)")
encoder_0.backward(da)
show("dL/d encoder.0.W", encoder_0.grads["W"], "x.T @ dL/da")
show("dL/d encoder.0.b", encoder_0.grads["b"], "sum over examples of dL/da")
by_hand = {f"{prefix}.{k}": layer.grads[k].copy() for prefix, layer in (
    ("encoder.0", encoder_0), ("decoder.0", decoder_0), ("classifier.0", classifier_0),
    ("classifier.2", classifier_2)) for k in ("W", "b")}


# %% [markdown]
# ## Check: the library's gradients and centered differences
#
# `model.loss_and_gradients` must give the same numbers, and each gradient must match
# the centered difference $(L(p + h) - L(p - h)) / 2h$ with $h = 10^{-5}$, entry by entry.

# %%
terms, grads, _ = model.loss_and_gradients(x, y)
loss = terms.total
grads = {k: v.copy() for k, v in grads.items()}
print(f"  model.loss_and_gradients gives L = {loss:.6f} (step by step: {total:.6f})")
numeric, errors = {}, {}
print(f"  {'parameter':16} {'shape':>7}  {'max |analytic - step by step|':>29}  "
    f"{'max rel error vs numerical':>26}")
for name, p in model.parameters().items():
    numeric[name] = numerical_gradient(lambda: model.loss_and_gradients(x, y)[0].total, p)
    errors[name] = relative_error(grads[name], numeric[name])
    same = np.max(np.abs(grads[name] - by_hand[name]))
    print(f"  {name:16} {str(p.shape):>7}  {same:29.1e}  {errors[name]:26.2e}")


# %% [markdown]
# ## The computational graph, drawn
#
# Every node with its value and $\partial L / \partial\,\mathrm{node}$ (first example). At
# the code the decoder's and the classifier's gradients add: the `+=` of micrograd's lecture.

# %%
from numpy_sae.teaching.graph import joint_graph, plot_graph  # noqa: E402

graph_nodes, graph_edges = joint_graph(*build())
graph_figure = plot_graph(graph_nodes, graph_edges)  # graph_figure.savefig("graph.png") keeps it
print(f"  dL/dcode = {graph_nodes['code'].grad[0].round(4)} (first example), as above")
graph_figure


# %% [markdown]
# ## One Adam step
#
# With lr 0.01, $\beta_1 = 0.9$, $\beta_2 = 0.999$ at $t = 1$: $m = 0.1\,g$, $v = 0.001\,g^2$,
# so $\hat m = m / (1 - 0.9) = g$ and $\hat v = v / (1 - 0.999) = g^2$. The first step is
# $p \leftarrow p - \mathrm{lr}\; g / (|g| + \epsilon)$: about 0.01 against the sign of $g$,
# whatever the size of the gradient.

# %%
params = model.parameters()
before = {k: v.copy() for k, v in params.items()}
adam = Adam(lr=0.01)
adam.step(params, grads)
for name in ("encoder.0.W", "classifier.2.b"):
    show(f"{name} before", before[name])
    show(f"{name} gradient", grads[name])
    show(f"{name} m (first moment)", adam.m[name])
    show(f"{name} after", params[name], "before - 0.01 * m_hat / (sqrt(v_hat) + eps)")
new_loss = model.loss(x, y).total
print(f"\n  loss before the step {loss:.6f}, after {new_loss:.6f}")


# %% [markdown]
# ## Pooling over time: how the segment model's classifier reaches every frame's code
#
# The segment model (`numpy-sae train --model segment`) encodes every short frame, then
# summarizes a segment's $T$ frames by the mean and standard deviation of each code unit:
# $\mu = \frac1T\sum_t c_t$, $s = \sqrt{\frac1T\sum_t (c_t - \mu)^2 + \epsilon}$. Back
# through it,
#
# $$\frac{\partial L}{\partial c_t} = \frac{d\mu}{T} + ds\,\frac{c_t - \mu}{T s}:$$
#
# the mean spreads its gradient evenly ($1/T$ to each frame), the standard deviation pushes
# each frame away from the mean in proportion to its deviation. In the model this adds, at
# every frame's code, to the decoder's gradient for that frame: the same sum as above.

# %%
frames = np.array([[[0.2, -0.5], [0.6, 0.1], [-0.1, 0.7]]])  # 1 segment, T = 3, K = 2
show("codes of one segment's frames", frames[0])
pooled, pool_cache = F.meanstd_pool_forward(frames)
show("[mu, s]", pooled, "mu = mean_t code_t, s = sqrt(mean_t (code_t - mu)^2 + 1e-5)")
dpooled = np.array([[1.0, 0.0, 0.0, 1.0]])  # the classifier's gradient w.r.t. [mu, s]
show("dL/d[mu, s]", dpooled, "as the classifier hands it back")
dframes = F.meanstd_pool_backward(dpooled, pool_cache)
show("dL/dcode_t", dframes[0], "dmu / T + ds * (code_t - mu) / (T s)")
pool_numeric = numerical_gradient(
    lambda: float(np.sum(F.meanstd_pool_forward(frames)[0] * dpooled)), frames)
print(f"  max relative error against centered differences: "
      f"{relative_error(dframes, pool_numeric):.1e}")


# %% [markdown]
# ## The spectrogram is a layer: filter pairs, their energy, its log
#
# Bin $k$ of the FFT of a Hann-windowed frame is
# $X_k = \sum_j w_j x_j \big(\cos(2\pi kj/N) - i \sin(2\pi kj/N)\big)$: two dense rows, a
# cosine and a sine. Square both outputs and add them, and the frame's phase is gone:
# $|X_k|^2$. A log compresses it. As a layer: $y = xW^\top$, $e_k = y_k^2 + y_{K+k}^2$,
# $c = \log(e + \epsilon)$, and learning from the waveform (`--input waveform
# --front-end filterbank`) lets $W$ move, with
# $de = \mathrm{dout}/(e + \epsilon)$, $dy = 2y \odot [de, de]$, $dW = dy^\top x$.

# %%
from numpy_sae.nn.filterbanks import hann  # noqa: E402

N = 16
frame = np.sin(2 * np.pi * 3 * np.arange(N) / N + 0.7)[None, :]  # a tone at bin 3
bins = np.arange(N // 2 + 1)
W_fft = np.concatenate([hann(N) * np.cos(2 * np.pi * bins[:, None] * np.arange(N) / N),
                        -hann(N) * np.sin(2 * np.pi * bins[:, None] * np.arange(N) / N)])
log_energy, fb_cache = F.filterbank_forward(frame, W_fft)
show("log |X_k|^2 by the layer", log_energy, "y = x W^T, e_k = y_k^2 + y_{K+k}^2, log(e + 1e-6)")
by_fft = np.log(np.abs(np.fft.rfft(hann(N) * frame)) ** 2 + 1e-6)
print(f"  the same by np.fft.rfft: largest difference {np.max(np.abs(log_energy - by_fft)):.1e}")
shifted = np.sin(2 * np.pi * 3 * np.arange(N) / N + 2.0)[None, :]  # same tone, other phase
print(f"  energy at bin 3 for two phases of the tone: "
      f"{np.exp(log_energy[0, 3]):.4f} and {np.exp(F.filterbank_forward(shifted, W_fft)[0][0, 3]):.4f}")
dlog = np.zeros_like(log_energy)
dlog[0, 3] = 1.0
_, dW_fft = F.filterbank_backward(dlog, fb_cache)
W_check = W_fft.copy()
fb_numeric = numerical_gradient(
    lambda: float(np.sum(F.filterbank_forward(frame, W_check)[0] * dlog)), W_check)
print(f"  max relative error of dW against centered differences: "
      f"{relative_error(dW_fft, fb_numeric):.1e}")
