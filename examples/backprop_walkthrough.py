"""Backpropagation through a tiny softmax autoencoder, every number printed, top to bottom.

    python examples/backprop_walkthrough.py

A 4-input network with a 3-unit tanh code, a linear decoder and a 2-class
classifier (one 2-unit tanh hidden layer), on 2 examples, with weights rounded
to one decimal so the arithmetic can be followed by hand. Every number comes
from the library's own layers and loss functions, called one at a time; at
the end they are compared with ``model.loss_and_gradients`` and with
centered differences, and one Adam step is shown parameter by parameter.

The script is a row of ``# %%`` cells: editors that know them (VS Code,
Spyder, Jupyter with jupytext) run it cell by cell, and every name a cell
defines stays there for the next one to print or change.
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
    text = np.array2string(np.asarray(value))
    print(f"  {name}  shape {np.shape(value)}{'  = ' + formula if formula else ''}")
    print("    " + text.replace("\n", "\n    "))


# %% The model
model, x, y = build()
enc_dense, enc_tanh = model.encoder.layers
dec_dense, dec_linear = model.decoder.layers
cls_dense, cls_tanh, cls_out, cls_linear = model.classifier.layers
gamma = model.gamma

print("=" * 78)
print("A tiny deep softmax autoencoder: 4 inputs -> 3-unit tanh code -> 4 outputs,")
print("and code -> 2 tanh units -> 2 classes.  N = 2 examples, gamma = 0.9.")
print("=" * 78)

# %% The weights and the two examples
print("\nWEIGHTS (rounded so you can follow by hand; every bias is 0.1)")
for name, p in model.parameters().items():
    if p.ndim == 2:
        show(name, p)
show("x", x)
print(f"  y = {y.tolist()}  (class of each example)")


# %% Forward pass
print("\nFORWARD PASS")
a = enc_dense.forward(x)
show("a = x @ W_enc + b_enc", a, "pre-activation of the code")
code = enc_tanh.forward(a)
show("code = tanh(a)", code)
x_hat = dec_linear.forward(dec_dense.forward(code))
show("x_hat = code @ W_dec + b_dec", x_hat, "the reconstruction (linear output)")
h_pre = cls_dense.forward(code)
h = cls_tanh.forward(h_pre)
show("h = tanh(code @ W_c0 + b_c0)", h, "classifier hidden layer")
logits = cls_linear.forward(cls_out.forward(h))
show("logits = h @ W_c2 + b_c2", logits)
probs, _ = F.softmax_forward(logits)
show("p = softmax(logits)", probs)


# %% The two losses and the joint loss
print("\nLOSSES")
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


# %% Backward pass, where the two gradients add at the code
print("\nBACKWARD PASS (each gradient: shape, formula, and the library's value)")
dx_hat *= gamma
show("dL/dx_hat", dx_hat, "gamma * 2 (x_hat - x) / N")
dcode_from_decoder = dec_dense.backward(dec_linear.backward(dx_hat))
show("dL/dW_dec", dec_dense.grads["W"], "code.T @ dL/dx_hat")
show("dL/db_dec", dec_dense.grads["b"], "sum over examples of dL/dx_hat")
show("dcode (from the decoder)", dcode_from_decoder, "dL/dx_hat @ W_dec.T")
dlogits *= 1 - gamma
show("dL/dlogits", dlogits, "(1 - gamma) (p - onehot(y)) / N")
dh = cls_out.backward(cls_linear.backward(dlogits))
show("dL/dW_c2", cls_out.grads["W"], "h.T @ dL/dlogits")
show("dL/dh", dh, "dL/dlogits @ W_c2.T")
dh_pre = cls_tanh.backward(dh)
show("dL/d(h_pre)", dh_pre, "dL/dh * (1 - h**2)")
dcode_from_classifier = cls_dense.backward(dh_pre)
show("dL/dW_c0", cls_dense.grads["W"], "code.T @ dL/d(h_pre)")
show("dcode (from the classifier)", dcode_from_classifier, "dL/d(h_pre) @ W_c0.T")
print("  " + "-" * 74)
print("  THE CODE LAYER: the code feeds both heads, so its gradient is the SUM of the two")
dcode = dcode_from_decoder + dcode_from_classifier
show("dL/dcode", dcode, "dcode (decoder) + dcode (classifier)")
print("  " + "-" * 74)
da = enc_tanh.backward(dcode)
show("dL/da", da, "dL/dcode * (1 - code**2)")
enc_dense.backward(da)
show("dL/dW_enc", enc_dense.grads["W"], "x.T @ dL/da")
show("dL/db_enc", enc_dense.grads["b"], "sum over examples of dL/da")
by_hand = {f"encoder.0.{k}": enc_dense.grads[k] for k in ("W", "b")}
by_hand.update({f"decoder.0.{k}": dec_dense.grads[k] for k in ("W", "b")})
by_hand.update({f"classifier.0.{k}": cls_dense.grads[k] for k in ("W", "b")})
by_hand.update({f"classifier.2.{k}": cls_out.grads[k] for k in ("W", "b")})
by_hand = {k: v.copy() for k, v in by_hand.items()}


# %% Check: the library's gradients and centered differences
print("\nCHECK: model.loss_and_gradients and centered differences (h = 1e-5)")
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


# %% The computational graph, drawn
print("\nTHE COMPUTATIONAL GRAPH (numpy_sae.teaching.graph): every node's value and dL/d(node);")
print("  at the code, the decoder's and the classifier's gradients add (micrograd's +=).")
from numpy_sae.teaching.graph import joint_graph, plot_graph  # noqa: E402

graph_nodes, graph_edges = joint_graph(*build())
graph_figure = plot_graph(graph_nodes, graph_edges)  # graph_figure.savefig("graph.png") keeps it
print(f"  dL/dcode = {graph_nodes['code'].grad[0].round(4)} (first example), as above")
graph_figure


# %% One Adam step
print("\nONE ADAM STEP (lr 0.01, beta1 0.9, beta2 0.999, eps 1e-8; t = 1)")
print("  m = 0.1 g, v = 0.001 g^2; m_hat = m / (1 - 0.9^1) = g; v_hat = v / (1 - 0.999^1) = g^2;")
print("  so the first step is p -= lr * g / (|g| + eps): about 0.01 against the sign of g.")
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


# %% Pooling over time: how the segment model's classifier reaches every frame's code
print("\nPOOLING OVER TIME (the segment model: numpy-sae train --model segment)")
print("  The segment model encodes every short frame, then summarizes a segment's T frames")
print("  by the mean and standard deviation of each code unit; its classifier reads that.")
frames = np.array([[[0.2, -0.5], [0.6, 0.1], [-0.1, 0.7]]])  # 1 segment, T = 3, K = 2
show("codes of one segment's frames", frames[0])
pooled, pool_cache = F.meanstd_pool_forward(frames)
show("[mu, s]", pooled, "mu = mean_t code_t, s = sqrt(mean_t (code_t - mu)^2 + 1e-5)")
dpooled = np.array([[1.0, 0.0, 0.0, 1.0]])  # the classifier's gradient w.r.t. [mu, s]
show("dL/d[mu, s]", dpooled, "as the classifier hands it back")
dframes = F.meanstd_pool_backward(dpooled, pool_cache)
show("dL/dcode_t", dframes[0], "dmu / T + ds * (code_t - mu) / (T s)")
print("  The mean spreads its gradient evenly (1/3 to each frame of unit 0); the standard")
print("  deviation pushes each frame away from the mean in proportion to its deviation")
print("  (unit 1). In the segment model this adds, at every frame's code, to the decoder's")
print("  gradient for that frame: the same sum as at the code layer above.")
pool_numeric = numerical_gradient(
    lambda: float(np.sum(F.meanstd_pool_forward(frames)[0] * dpooled)), frames)
print(f"  max relative error against centered differences: "
      f"{relative_error(dframes, pool_numeric):.1e}")


# %% The spectrogram is a layer: filter pairs, their energy, its log
print("\nTHE SPECTROGRAM AS A LAYER (numpy-sae train --model segment --input waveform "
      "--front-end filterbank)")
print("  rfft bin k of a Hann-windowed frame is sum_j hann_j x_j (cos(2 pi k j / N)")
print("  - i sin(2 pi k j / N)): two dense rows, a cosine and a sine. Square both outputs,")
print("  add them and the frame's phase is gone: |X_k|^2. A log compresses it.")
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
print("  Learning from the waveform keeps this structure and lets W move: the gradient is")
dlog = np.zeros_like(log_energy)
dlog[0, 3] = 1.0
_, dW_fft = F.filterbank_backward(dlog, fb_cache)
print("  de = dout / (e + eps), dy = 2 y de (on both rows of a pair), dW = dy^T x;")
W_check = W_fft.copy()
fb_numeric = numerical_gradient(
    lambda: float(np.sum(F.filterbank_forward(frame, W_check)[0] * dlog)), W_check)
print(f"  max relative error of dW against centered differences: "
      f"{relative_error(dW_fft, fb_numeric):.1e}")
