"""Stateless forward/backward pairs: the equations of the network, one function each.

Every forward function returns ``(out, cache)`` and its backward partner takes
the upstream gradient ``dout`` and that cache. Losses return ``(loss, grad)``
averaged over the batch. Nothing here allocates parameters or keeps state, so
each function can be read, tested and gradient-checked on its own.
All arrays are batch-first: ``x`` has shape (N, D).
"""

import numpy as np


def dense_forward(x, W, b):
    """Affine map ``out = x @ W + b``.

    Parameters
    ----------
    x : ndarray, shape (N, D_in)
    W : ndarray, shape (D_in, D_out)
    b : ndarray, shape (D_out,)

    Returns
    -------
    out : ndarray, shape (N, D_out)
    cache : tuple (x, W)

    Notes
    -----
    out = x @ W + b
    """
    out = x @ W + b
    return out, (x, W)


def dense_backward(dout, cache, need_dx=True):
    """Gradients of the affine map.

    Parameters
    ----------
    dout : ndarray, shape (N, D_out)
    cache : tuple (x, W) from :func:`dense_forward`
    need_dx : bool
        False skips dx (returned as None) when x is data, not a result of
        earlier layers: for the network's first layer that saves a tenth of
        all the matrix work of a training step.

    Returns
    -------
    dx : ndarray, shape (N, D_in), or None
    dW : ndarray, shape (D_in, D_out)
    db : ndarray, shape (D_out,)

    Notes
    -----
    dx = dout @ W.T,  dW = x.T @ dout,  db = sum over the batch of dout
    """
    x, W = cache
    dx = dout @ W.T if need_dx else None
    return dx, x.T @ dout, dout.sum(axis=0)


def tanh_forward(x):
    """Hyperbolic tangent, elementwise.

    Parameters
    ----------
    x : ndarray, shape (N, D)

    Returns
    -------
    out : ndarray, shape (N, D)
    cache : ndarray, the output itself (the derivative needs only ``out``)

    Notes
    -----
    out = tanh(x) = (exp(x) - exp(-x)) / (exp(x) + exp(-x))
    """
    out = np.tanh(x)
    return out, out


def tanh_backward(dout, cache):
    """Gradient of tanh from its stored output.

    Parameters
    ----------
    dout : ndarray, shape (N, D)
    cache : ndarray, shape (N, D), the forward output ``out``

    Returns
    -------
    dx : ndarray, shape (N, D)

    Notes
    -----
    tanh'(x) = 1 - tanh(x)**2 = 1 - out**2,  so  dx = dout * (1 - out**2)
    """
    out = cache
    dx = dout * (1.0 - out**2)
    return dx


def sigmoid_forward(x):
    """Logistic sigmoid ``1 / (1 + exp(-x))``, elementwise.

    Parameters
    ----------
    x : ndarray, shape (N, D)

    Returns
    -------
    out : ndarray, shape (N, D)
    cache : ndarray, the output itself (the derivative needs only ``out``)

    Notes
    -----
    Written through tanh, sigmoid(x) = (1 + tanh(x / 2)) / 2, which never
    overflows (exp(-x) would for x << 0).
    """
    out = (1.0 + np.tanh(x / 2)) / 2
    return out, out


def sigmoid_backward(dout, cache):
    """Gradient of the sigmoid from its output.

    Parameters
    ----------
    dout : ndarray, shape (N, D)
    cache : ndarray, shape (N, D), the forward output ``out``

    Returns
    -------
    dx : ndarray, shape (N, D)

    Notes
    -----
    sigmoid'(x) = out * (1 - out),  so  dx = dout * out * (1 - out)
    """
    out = cache
    return dout * out * (1.0 - out)


def relu_forward(x):
    """Rectified linear unit ``max(0, x)``, elementwise.

    Parameters
    ----------
    x : ndarray, shape (N, D)

    Returns
    -------
    out : ndarray, shape (N, D)
    cache : ndarray of bool, shape (N, D), the mask x > 0
    """
    mask = x > 0
    return x * mask, mask


def relu_backward(dout, cache):
    """Gradient of ReLU.

    Parameters
    ----------
    dout : ndarray, shape (N, D)
    cache : ndarray of bool, shape (N, D), the mask x > 0

    Returns
    -------
    dx : ndarray, shape (N, D)

    Notes
    -----
    relu'(x) = 1 if x > 0 else 0 (0 chosen at x = 0),  so  dx = dout * (x > 0)
    """
    return dout * cache


def identity_forward(x):
    """Identity activation: the linear output layer. Shape (N, D) -> (N, D)."""
    return x, None


def identity_backward(dout, cache):
    """Gradient of the identity: dx = dout."""
    return dout


def softmax_forward(logits):
    """Row-wise softmax, stable against overflow.

    Parameters
    ----------
    logits : ndarray, shape (N, C)

    Returns
    -------
    probs : ndarray, shape (N, C), rows sum to 1
    cache : ndarray, the probabilities

    Notes
    -----
    softmax(z)_i = exp(z_i - max(z)) / sum_j exp(z_j - max(z)); subtracting the
    row maximum changes nothing mathematically and keeps exp() <= 1.
    """
    shifted = logits - logits.max(axis=1, keepdims=True)
    probs = np.exp(shifted) / np.exp(shifted).sum(axis=1, keepdims=True)
    return probs, probs


def softmax_backward(dout, cache):
    """Vector-Jacobian product of the softmax (for teaching; training uses the fused loss).

    Parameters
    ----------
    dout : ndarray, shape (N, C), gradient w.r.t. the probabilities
    cache : ndarray, shape (N, C), the probabilities ``p``

    Returns
    -------
    dlogits : ndarray, shape (N, C)

    Notes
    -----
    The Jacobian is dp_i/dz_j = p_i (delta_ij - p_j), so
    dlogits_j = p_j * (dout_j - sum_i dout_i p_i).
    """
    p = cache
    return p * (dout - np.sum(dout * p, axis=1, keepdims=True))


def log_softmax(logits):
    """Row-wise log-probabilities by log-sum-exp; finite for any finite logits.

    Parameters
    ----------
    logits : ndarray, shape (N, C)

    Returns
    -------
    log_probs : ndarray, shape (N, C)
    """
    shifted = logits - logits.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def softmax_cross_entropy(logits, y):
    """Fused softmax + cross-entropy, averaged over the batch.

    Parameters
    ----------
    logits : ndarray, shape (N, C)
    y : ndarray of int, shape (N,), class indices in [0, C)

    Returns
    -------
    loss : float
    dlogits : ndarray, shape (N, C)

    Notes
    -----
    loss = -(1/N) sum_n log softmax(z_n)[y_n], computed with log-sum-exp so a
    probability of 0 is never passed to log (logits of +-1000 stay finite).
    dlogits = (softmax(z) - onehot(y)) / N
    """
    n = logits.shape[0]
    log_probs = log_softmax(logits)
    rows = np.arange(n)
    loss = -float(log_probs[rows, y].sum(dtype=np.float64)) / n
    onehot = np.zeros_like(logits)
    onehot[rows, y] = 1.0
    dlogits = (np.exp(log_probs) - onehot) / n
    return loss, dlogits


def masked_softmax_cross_entropy(logits, y):
    """Softmax + cross-entropy over the labeled rows only: rows with y = -1 (unlabeled
    audio) add nothing to the loss and get no gradient.

    Parameters
    ----------
    logits : ndarray, shape (N, C)
    y : ndarray of int, shape (N,), class indices in [0, C), or -1 for unlabeled

    Returns
    -------
    loss : float, 0 when no row is labeled
    dlogits : ndarray, shape (N, C), zero rows where y = -1

    Notes
    -----
    With L the labeled rows and N_L their number:
    loss = -(1/N_L) sum_{n in L} log softmax(z_n)[y_n]
    dlogits_n = (softmax(z_n) - onehot(y_n)) / N_L for n in L, 0 otherwise.
    The mean runs over labeled rows, so the term keeps its scale whatever share of
    a batch is unlabeled.
    """
    labeled = y >= 0
    n_labeled = int(np.count_nonzero(labeled))
    if n_labeled == len(y):
        return softmax_cross_entropy(logits, y)
    dlogits = np.zeros_like(logits)
    if n_labeled == 0:
        return 0.0, dlogits
    loss, dlogits[labeled] = softmax_cross_entropy(logits[labeled], y[labeled])
    return loss, dlogits


def sum_squared_error(x_hat, x):
    """Reconstruction loss: per-example sum of squared errors, averaged over the batch.

    Parameters
    ----------
    x_hat : ndarray, shape (N, D), the reconstruction g(f(x))
    x : ndarray, shape (N, D), the target

    Returns
    -------
    loss : float
    dx_hat : ndarray, shape (N, D)

    Notes
    -----
    loss = (1/N) sum_n ||x_n - x_hat_n||^2,  dx_hat = 2 (x_hat - x) / N

    Summing (not averaging) over the D features matches the study's
    ||x - g(f(x))||^2; its size therefore grows with D, which is what the
    weight gamma in the joint loss is balanced against. Only the batch is
    averaged, so the loss does not depend on the batch size.
    """
    n = x.shape[0]
    loss = float(np.sum((x_hat - x) ** 2)) / n
    dx_hat = 2.0 * (x_hat - x) / n
    return loss, dx_hat


def joint_loss(reconstruction, dx_hat, cross_entropy, dlogits, gamma):
    """Weigh the two losses of the softmax autoencoder and their gradients.

    Parameters
    ----------
    reconstruction : float, and dx_hat : ndarray (N, D), from :func:`sum_squared_error`
    cross_entropy : float, and dlogits : ndarray (N, C), from the softmax cross-entropy
    gamma : float in [0, 1], the weight of the reconstruction

    Returns
    -------
    loss : float
    dx_hat : ndarray (N, D), the weighted gradient (a new array)
    dlogits : ndarray (N, C), the weighted gradient (a new array)

    Notes
    -----
    L = gamma * L_rec + (1 - gamma) * L_ce, so
    dL/dx_hat = gamma * dL_rec/dx_hat,  dL/dlogits = (1 - gamma) * dL_ce/dlogits
    """
    loss = gamma * reconstruction + (1.0 - gamma) * cross_entropy
    return loss, gamma * dx_hat, (1.0 - gamma) * dlogits


def fanout_forward(x):
    """One array feeding two branches (the code feeds the decoder and the classifier).

    Parameters
    ----------
    x : ndarray, shape (N, D)

    Returns
    -------
    (out_a, out_b) : the same array twice, shape (N, D) each
    cache : None
    """
    return (x, x), None


def fanout_backward(dout_a, dout_b):
    """Gradient of a fan-out: the gradients of the branches add.

    Parameters
    ----------
    dout_a, dout_b : ndarray, shape (N, D), the gradient from each branch

    Returns
    -------
    dx : ndarray, shape (N, D)

    Notes
    -----
    By the chain rule dL/dx = dL/dout_a + dL/dout_b: this sum is where the
    decoder's and the classifier's objectives meet and shape the same encoder.
    """
    dx = dout_a + dout_b
    return dx


def meanstd_pool_forward(x, eps=1e-5):
    """Summarize each sequence of frames by the mean and standard deviation of every feature.

    Parameters
    ----------
    x : ndarray, shape (N, T, K), T frames of K features per segment
    eps : float, keeps the square root differentiable for a constant feature

    Returns
    -------
    out : ndarray, shape (N, 2K), [mean over time, standard deviation over time]
    cache : tuple (x - mean, std, T)

    Notes
    -----
    mu = (1/T) sum_t x_t,  s = sqrt((1/T) sum_t (x_t - mu)**2 + eps),  out = [mu, s]
    """
    T = x.shape[1]
    mu = x.mean(axis=1)
    centered = x - mu[:, None, :]
    s = np.sqrt(np.mean(centered * centered, axis=1) + eps)
    return np.concatenate([mu, s], axis=1), (centered, s, T)


def meanstd_pool_backward(dout, cache):
    """Gradient of mean/std pooling.

    Parameters
    ----------
    dout : ndarray, shape (N, 2K), the gradient w.r.t. [mu, s]
    cache : from :func:`meanstd_pool_forward`

    Returns
    -------
    dx : ndarray, shape (N, T, K)

    Notes
    -----
    dmu/dx_t = 1/T for every frame, and ds/dx_t = (x_t - mu) / (T s): the part of the
    variance's gradient that flows through mu vanishes because sum_t (x_t - mu) = 0.
    So  dx_t = dmu / T + ds * (x_t - mu) / (T s).
    """
    centered, s, T = cache
    K = s.shape[1]
    dmu, ds = dout[:, :K], dout[:, K:]
    dx = (dmu / T)[:, None, :] + centered * (ds / (T * s))[:, None, :]
    return dx


def joint_network_loss(params, x, y, gamma):
    """The loss and every gradient of a one-layer softmax autoencoder, composed by hand.

    The whole backward pass written out from the functions above: the graph is
    x -> dense -> tanh -> code, then code -> dense -> x_hat (decoder) and
    code -> dense -> logits (classifier). It is what ``SoftmaxAutoencoderNetwork``
    does with its layers, in one function a student can write; the weights have the
    model's own names, so ``joint_network_loss(model.parameters(), x, y, gamma)`` equals
    ``model.loss_and_gradients`` for a model with ``encoder_hidden=()`` and no hidden
    classifier layer.

    Parameters
    ----------
    params : dict of ndarrays: "encoder.0.W" (D, K), "encoder.0.b" (K,), "decoder.0.W"
        (K, D), "decoder.0.b" (D,), "classifier.0.W" (K, C), "classifier.0.b" (C,)
    x : ndarray, shape (N, D)
    y : ndarray of int, shape (N,)
    gamma : float in [0, 1]

    Returns
    -------
    loss : float
    grads : dict with the keys and shapes of ``params``

    Notes
    -----
    code = tanh(x @ encoder.0.W + encoder.0.b), x_hat = code @ decoder.0.W + decoder.0.b,
    logits = code @ classifier.0.W + classifier.0.b,
    L = gamma * sum_squared_error(x_hat, x) + (1 - gamma) * softmax_cross_entropy(logits, y).
    Backward runs the graph in reverse; at the code the decoder's and the classifier's
    gradients add (fanout_backward) before they go through tanh and the encoder.
    """
    a, encoder_cache = dense_forward(x, params["encoder.0.W"], params["encoder.0.b"])
    code, tanh_cache = tanh_forward(a)
    (to_decoder, to_classifier), _ = fanout_forward(code)
    x_hat, decoder_cache = dense_forward(to_decoder, params["decoder.0.W"],
                                         params["decoder.0.b"])
    logits, classifier_cache = dense_forward(to_classifier, params["classifier.0.W"],
                                             params["classifier.0.b"])
    reconstruction, dx_hat = sum_squared_error(x_hat, x)
    cross_entropy, dlogits = softmax_cross_entropy(logits, y)
    loss, dx_hat, dlogits = joint_loss(reconstruction, dx_hat, cross_entropy, dlogits, gamma)
    grads = {}
    dcode_decoder, grads["decoder.0.W"], grads["decoder.0.b"] = dense_backward(
        dx_hat, decoder_cache)
    dcode_classifier, grads["classifier.0.W"], grads["classifier.0.b"] = dense_backward(
        dlogits, classifier_cache)
    dcode = fanout_backward(dcode_decoder, dcode_classifier)
    da = tanh_backward(dcode, tanh_cache)
    _, grads["encoder.0.W"], grads["encoder.0.b"] = dense_backward(da, encoder_cache,
                                                                   need_dx=False)
    return loss, grads


def meanlogstd_pool_forward(x, eps=1e-5):
    """Mean and log standard deviation over time: a segment's summary on a log scale.

    Parameters
    ----------
    x : ndarray, shape (N, T, K)
    eps : float, as in :func:`meanstd_pool_forward`

    Returns
    -------
    out : ndarray, shape (N, 2K), [mean over time, log of the standard deviation]
    cache : as for :func:`meanstd_pool_forward`

    Notes
    -----
    out = [mu, log s]: for codes that swing around zero (filters on a raw waveform) s is
    their energy, and the log puts loud and quiet songs on one scale, as a log spectrum does.
    """
    out, cache = meanstd_pool_forward(x, eps)
    K = x.shape[2]
    out[:, K:] = np.log(out[:, K:])
    return out, cache


def meanlogstd_pool_backward(dout, cache):
    """Gradient of mean/log-std pooling: dout (N, 2K) -> dx (N, T, K).

    Notes
    -----
    d(log s)/ds = 1 / s, so ds = dlogs / s, and then dx_t = dmu / T + ds * (x_t - mu) / (T s)
    as in :func:`meanstd_pool_backward`.
    """
    _, s, _ = cache
    K = s.shape[1]
    dmu, dlogs = dout[:, :K], dout[:, K:]
    return meanstd_pool_backward(np.concatenate([dmu, dlogs / s], axis=1), cache)


def filterbank_forward(x, W, eps=1e-6):
    """A learnable spectrogram: pairs of filters, their energy, its logarithm.

    Parameters
    ----------
    x : ndarray, shape (n, N), n frames of N waveform samples
    W : ndarray, shape (2K, N): rows 0..K-1 are the K "cosine" filters, rows K..2K-1
        their "sine" partners (each row is one filter, so W[k] can be plotted)
    eps : float, keeps the log finite on silent frames

    Returns
    -------
    c : ndarray, shape (n, K), log energy of each frame in each band
    cache : tuple (x, W, y, e)

    Notes
    -----
    y = x W^T                      (n, 2K): each frame filtered by every row
    e_k = y_k**2 + y_{K+k}**2      (n, K): the squared modulus of the pair, which
                                   discards the frame's phase
    c_k = log(e_k + eps)
    With W[k, j] = hann_j cos(2 pi k j / N) and W[K+k, j] = -hann_j sin(2 pi k j / N)
    (k = 0 .. N/2), e_k = |rfft(hann * x)_k|**2: the power spectrum is this layer.
    """
    y = x @ W.T
    K = W.shape[0] // 2
    e = y[:, :K] ** 2 + y[:, K:] ** 2
    return np.log(e + eps), (x, W, y, e + eps)


def filterbank_backward(dout, cache, need_dx=False):
    """Gradients of :func:`filterbank_forward`.

    Parameters
    ----------
    dout : ndarray, shape (n, K), the gradient w.r.t. c
    cache : from :func:`filterbank_forward`
    need_dx : bool, whether to compute the gradient w.r.t. the waveform (data needs none)

    Returns
    -------
    dx : ndarray, shape (n, N), or None
    dW : ndarray, shape (2K, N)

    Notes
    -----
    de_k = dout_k / (e_k + eps)                   (d log u / du = 1 / u)
    dy_k = 2 y_k de_k,  dy_{K+k} = 2 y_{K+k} de_k  (d u**2 / du = 2 u)
    dW = dy^T x,  dx = dy W                        (the dense layer's rule, W transposed)
    """
    x, W, y, e = cache   # e holds e + eps
    de = dout / e
    dy = 2 * y * np.concatenate([de, de], axis=1)
    dW = dy.T @ x
    return (dy @ W if need_dx else None), dW


def gabor_filters_forward(omega, w):
    """Filter pairs from K centre frequencies and one shared window (the parametric front end).

    Parameters
    ----------
    omega : ndarray, shape (K,), centre frequencies in radians per sample (0 .. pi)
    w : ndarray, shape (N,), the window every filter shares

    Returns
    -------
    W : ndarray, shape (2K, N), [cosine rows; sine rows] for :func:`filterbank_forward`
    cache : tuple (omega, w, phase)

    Notes
    -----
    W[k, j] = w_j cos(omega_k j),  W[K+k, j] = -w_j sin(omega_k j),  j = 0 .. N-1.
    Two numbers per filter instead of 2N: few songs can fit them.
    """
    phase = omega[:, None] * np.arange(len(w), dtype=w.dtype)[None, :]
    W = np.concatenate([w * np.cos(phase), -w * np.sin(phase)], axis=0)
    return W, (omega, w, phase)


def gabor_filters_backward(dW, cache):
    """Gradients of :func:`gabor_filters_forward`.

    Parameters
    ----------
    dW : ndarray, shape (2K, N)
    cache : from :func:`gabor_filters_forward`

    Returns
    -------
    domega : ndarray, shape (K,)
    dw : ndarray, shape (N,)

    Notes
    -----
    dW_cos[k, j] / domega_k = -w_j j sin(omega_k j),  dW_sin[k, j] / domega_k = -w_j j cos(omega_k j)
    dW_cos[k, j] / dw_j = cos(omega_k j),             dW_sin[k, j] / dw_j = -sin(omega_k j)
    so domega_k = -sum_j w_j j (dW_cos sin + dW_sin cos)[k, j]
    and   dw_j  =  sum_k (dW_cos cos - dW_sin sin)[k, j].
    """
    omega, w, phase = cache
    K = len(omega)
    dW_cos, dW_sin = dW[:K], dW[K:]
    cos, sin = np.cos(phase), np.sin(phase)
    j = np.arange(len(w), dtype=w.dtype)
    domega = -np.sum((dW_cos * sin + dW_sin * cos) * (w * j), axis=1)
    dw = np.sum(dW_cos * cos - dW_sin * sin, axis=0)
    return domega, dw
