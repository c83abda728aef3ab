import numpy as np
import pytest
from conftest import small_network

from numpy_sae.nn.optim import SGD, Adam, Momentum

GRADS = [np.array([0.5, -1.0]), np.array([0.1, 0.2]), np.array([-0.3, 0.4])]


def run(opt, start=(1.0, 2.0)):
    params = {"w": np.array(start)}
    live = params["w"]
    history = []
    for g in GRADS:
        opt.step(params, {"w": g.copy()})
        history.append(params["w"].copy())
    assert params["w"] is live  # updated in place: layers keep holding the same array
    return history


def test_sgd_by_hand():
    h = run(SGD(lr=0.1))
    np.testing.assert_allclose(h[0], [0.95, 2.1])
    np.testing.assert_allclose(h[1], [0.94, 2.08])
    np.testing.assert_allclose(h[2], [0.97, 2.04])


def test_momentum_by_hand():
    # v1 = -0.1 g1 = [-0.05, 0.1];          p1 = [0.95, 2.1]
    # v2 = 0.9 v1 - 0.1 g2 = [-0.055, 0.07]; p2 = [0.895, 2.17]
    # v3 = 0.9 v2 - 0.1 g3 = [-0.0195, 0.023]; p3 = [0.8755, 2.193]
    h = run(Momentum(lr=0.1, momentum=0.9))
    np.testing.assert_allclose(h[0], [0.95, 2.1])
    np.testing.assert_allclose(h[1], [0.895, 2.17])
    np.testing.assert_allclose(h[2], [0.8755, 2.193])


def adam_by_hand(lr, b1, b2, eps, p):
    m = np.zeros(2)
    v = np.zeros(2)
    out = []
    for t, g in enumerate(GRADS, start=1):
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        m_hat = m / (1 - b1 ** t)
        v_hat = v / (1 - b2 ** t)
        p = p - lr * m_hat / (np.sqrt(v_hat) + eps)
        out.append(p)
    return out


def test_adam_first_step_is_lr_times_sign():
    # With bias correction the first step is lr * g / (|g| + eps): about lr * sign(g).
    h = run(Adam(lr=0.01))
    np.testing.assert_allclose(h[0], [0.99, 2.01], rtol=1e-7)


def test_adam_three_steps_by_hand():
    h = run(Adam(lr=0.01, eps=1e-8))
    expected = adam_by_hand(0.01, 0.9, 0.999, 1e-8, np.array([1.0, 2.0]))
    for got, want in zip(h, expected):
        np.testing.assert_allclose(got, want, rtol=1e-12)
    # Step 2 written out: m = [0.055, -0.07], v = [0.00025975, 0.001039],
    # m_hat = m / 0.19 = [0.2894737, -0.3684211], v_hat = v / 0.001999 = [0.1299400, 0.5197599],
    # p = [0.99, 2.01] - 0.01 * m_hat / sqrt(v_hat) = [0.9819696, 2.0151103].
    np.testing.assert_allclose(h[1], [0.9819696, 2.0151103], atol=1e-7)


def test_adam_without_bias_correction_would_differ():
    # A classic bug: forgetting the power t in 1 - beta**t. Guard the third step.
    h = run(Adam(lr=0.01))
    b1, b2 = 0.9, 0.999
    m = np.zeros(2)
    v = np.zeros(2)
    p = np.array([1.0, 2.0])
    for g in GRADS:
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        p = p - 0.01 * (m / (1 - b1)) / (np.sqrt(v / (1 - b2)) + 1e-8)
    assert not np.allclose(h[2], p)


def test_adamw_decays_weights_not_biases():
    opt = Adam(lr=0.1, weight_decay=0.5)
    params = {"W": np.ones((2, 2)), "b": np.ones(2)}
    opt.step(params, {"W": np.zeros((2, 2)), "b": np.zeros(2)})
    np.testing.assert_allclose(params["W"], 0.95)  # p * (1 - lr * wd), zero gradient
    np.testing.assert_allclose(params["b"], 1.0)


def test_float32_state_stays_float32():
    opt = Adam(lr=1e-3)
    params = {"w": np.ones(3, dtype=np.float32)}
    opt.step(params, {"w": np.full(3, 0.5, dtype=np.float32)})
    assert params["w"].dtype == np.float32
    assert opt.m["w"].dtype == np.float32 and opt.v["w"].dtype == np.float32


@pytest.mark.parametrize("make", [lambda: Adam(lr=1e-3), lambda: Adam(lr=1e-3, weight_decay=0.1),
                                  lambda: Momentum(0.1), lambda: SGD(0.1)])
def test_float32_updates_never_meet_a_float64_operand(make, rng, dtype_spy):
    # A NumPy float64 scalar (np.sqrt of a Python float, say) in `a *= s` makes NumPy
    # compute a float32 array in float64 and cast back: silently correct, 30% slower.
    params = {"W": rng.standard_normal((3, 2)).astype(np.float32).view(dtype_spy)}
    grads = {"W": rng.standard_normal((3, 2)).astype(np.float32).view(dtype_spy)}
    opt = make()
    for _ in range(2):
        opt.step(params, grads)
    assert dtype_spy.seen and {dtype for _, dtype in dtype_spy.seen} == {np.dtype(np.float32)}


def test_state_dict_round_trip_continues_identically():
    a = Adam(lr=0.01)
    pa = {"w": np.array([1.0, 2.0])}
    a.step(pa, {"w": GRADS[0]})
    b = Adam(lr=0.01)
    b.load_state_dict(a.state_dict())
    pb = {"w": pa["w"].copy()}
    a.step(pa, {"w": GRADS[1]})
    b.step(pb, {"w": GRADS[1]})
    np.testing.assert_array_equal(pa["w"], pb["w"])
    assert b.t == 2


@pytest.mark.parametrize("make", [lambda: SGD(lr=0), lambda: Adam(lr=-1),
                                  lambda: Adam(beta1=1.0), lambda: Momentum(0.1, momentum=1.2),
                                  lambda: Adam(weight_decay=-1)])
def test_bad_hyperparameters(make):
    with pytest.raises(ValueError):
        make()


def test_mismatched_keys():
    with pytest.raises(ValueError, match="same keys"):
        SGD(0.1).step({"a": np.zeros(1)}, {"b": np.zeros(1)})


def test_decoupled_weight_decay_is_the_gradient_step_of_an_l2_penalty(rng):
    # With zero loss gradients Adam's own step is 0, so one AdamW step is exactly
    # p <- p - lr * grad((wd / 2) * ||W||^2): checked against centered differences.
    from numpy_sae.nn.gradcheck import numerical_gradient, relative_error
    model = small_network(input_dim=6, n_classes=2, code_dim=3, encoder_hidden=(4,),
                          classifier_hidden=3, dtype=np.float64, seed=1)
    params = model.parameters()
    for p in params.values():
        p[...] = rng.standard_normal(p.shape)
    before = {k: v.copy() for k, v in params.items()}
    lr, wd = 0.01, 0.3

    def penalty():
        return 0.5 * wd * sum(float(np.sum(p * p)) for p in params.values() if p.ndim == 2)
    expected = {k: -lr * numerical_gradient(penalty, p) for k, p in params.items()}
    Adam(lr=lr, weight_decay=wd).step(params, {k: np.zeros_like(v) for k, v in params.items()})
    for k in params:
        step = params[k] - before[k]
        if params[k].ndim == 2:
            assert relative_error(step, expected[k]) < 1e-6
        else:
            assert not step.any() and not expected[k].any()  # biases are never decayed


def test_a_prefix_can_learn_slower_or_not_at_all(rng):
    from numpy_sae.nn.optim import Adam
    params = {"front.W": rng.standard_normal((2, 3)), "encoder.0.W": rng.standard_normal((3, 2))}
    grads = {k: rng.standard_normal(v.shape) for k, v in params.items()}
    before = {k: v.copy() for k, v in params.items()}
    adam = Adam(lr=0.1)
    adam.lr_scales["front."] = 0.0
    adam.step(params, grads)
    np.testing.assert_array_equal(params["front.W"], before["front.W"])  # frozen
    assert not np.array_equal(params["encoder.0.W"], before["encoder.0.W"])
    adam.lr_scales["front."] = 0.1
    adam.step(params, grads)
    # The moments followed the gradient while frozen, so the bias correction is exact:
    # with a constant gradient the first real step moves by its lr, here 0.1 * 0.1.
    np.testing.assert_allclose(np.abs(params["front.W"] - before["front.W"]), 0.01, rtol=1e-3)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_the_fused_adam_step_equals_the_textbook_one(dtype):
    # Training runs adam_step_fused (one scratch array); students read adam_step.
    from numpy_sae.nn.optim import adam_step, adam_step_fused
    rng = np.random.default_rng(0)
    p = rng.standard_normal((7, 5)).astype(dtype)
    textbook = [p.copy(), np.zeros_like(p), np.zeros_like(p)]
    fused = [p.copy(), np.zeros_like(p), np.zeros_like(p)]
    for t in range(1, 6):
        g = rng.standard_normal(p.shape).astype(dtype)
        adam_step(*textbook[:1], g, *textbook[1:], t, 3e-3, 0.8, 0.99, 1e-6)
        adam_step_fused(*fused[:1], g, *fused[1:], t, 3e-3, 0.8, 0.99, 1e-6)
    for a, b in zip(textbook, fused):
        assert a.dtype == dtype
        np.testing.assert_allclose(a, b, rtol=1e-6 if dtype == np.float32 else 1e-13)
