import numpy as np
import pytest
from conftest import small_network

from numpy_sae import SoftmaxAutoencoderNetwork
from numpy_sae.nn.gradcheck import check_model

BOUND = 1e-6


def tiny_model(gamma=0.9, dtype=np.float64, seed=3, **kw):
    """Two hidden layers, so gradients pass through a tanh between two dense layers."""
    return small_network(input_dim=7, code_dim=3, encoder_hidden=(6, 5), classifier_hidden=4,
                         gamma=gamma, dtype=dtype, seed=seed, **kw)


def batch(rng, n=5, d=7, c=3):
    return rng.standard_normal((n, d)), rng.integers(0, c, size=n)


@pytest.mark.parametrize("gamma", [0.0, 0.5, 0.9, 1.0])
def test_whole_model_gradients(gamma):
    # A batch of its own: in about 5% of random batches (measured: 4 of 80, and 3 of 80
    # with the former tanh formula) one entry of encoder.0.W is below 2e-5, where the
    # float64 round-off of the difference quotient (eps * loss / h, about 5e-11) alone
    # exceeds the 1e-6 relative bound. This batch has no such entry: worst error 1.7e-7.
    rng = np.random.default_rng(0)
    model = tiny_model(gamma)
    x, y = batch(rng)
    model.fit_scaling(rng.standard_normal((20, 7)) * 3 + 1)  # exercise the scaling path too
    report = check_model(model, x, y)
    assert set(report) == set(model.parameters())
    worst = {k: v["max_rel_error"] for k, v in report.items() if v["max_rel_error"] >= BOUND}
    assert not worst


@pytest.mark.parametrize("activation", ["sigmoid", "relu"])
def test_other_activations_gradients(activation, rng):
    # One hidden layer: through a deep sigmoid stack the first layer's gradients
    # shrink to ~1e-5 (vanishing gradients), where the loss's round-off, not the
    # backward pass, would limit the relative error.
    model = SoftmaxAutoencoderNetwork(input_dim=7, n_classes=3, code_dim=3, encoder_hidden=(5,),
                                      classifier_hidden=4, gamma=0.7, dtype=np.float64, seed=3,
                                      activation=activation)
    x, y = batch(rng)
    report = check_model(model, x, y)
    assert max(v["max_rel_error"] for v in report.values()) < BOUND


@pytest.mark.parametrize("gamma", [0.0, 0.5, 0.9])
def test_masked_joint_loss_gradients(gamma):
    # Unlabeled windows (y = -1) count in the reconstruction, not in the cross-entropy.
    rng = np.random.default_rng(0)
    model = tiny_model(gamma)
    x, _ = batch(rng, n=6)
    y = np.array([0, -1, 2, -1, 1, -1])
    model.fit_scaling(rng.standard_normal((20, 7)) * 3 + 1)
    report = check_model(model, x, y)
    assert not {k: v["max_rel_error"] for k, v in report.items() if v["max_rel_error"] >= BOUND}


def test_unlabeled_windows_never_change_the_classifiers_gradients(rng):
    model = tiny_model(0.5)
    x, y = batch(rng, n=6)
    labeled = x[:3], y[:3]
    unlabeled = rng.standard_normal((5, 7)) * 4
    _, alone, _ = model.loss_and_gradients(*labeled)
    alone = {k: v.copy() for k, v in alone.items()}
    mixed_x = np.concatenate([labeled[0], unlabeled])
    mixed_y = np.concatenate([labeled[1], np.full(5, -1)])
    terms, mixed, _ = model.loss_and_gradients(mixed_x, mixed_y)
    for k in alone:
        if k.startswith("classifier."):
            np.testing.assert_allclose(mixed[k], alone[k], rtol=1e-12, atol=1e-15)
    assert terms.cross_entropy == pytest.approx(model.loss(*labeled).cross_entropy)
    # ...while the reconstruction, and so the encoder and decoder, do see them.
    assert not np.allclose(mixed["decoder.0.W"], alone["decoder.0.W"])
    _, only_unlabeled, _ = model.loss_and_gradients(unlabeled, np.full(5, -1))
    assert all(not only_unlabeled[k].any() for k in only_unlabeled if k.startswith("classifier."))


def test_gamma_extremes_zero_the_other_head(rng):
    x, y = batch(rng)
    _, grads, _ = tiny_model(1.0).loss_and_gradients(x, y)
    assert all(not grads[k].any() for k in grads if k.startswith("classifier."))
    _, grads, _ = tiny_model(0.0).loss_and_gradients(x, y)
    assert all(not grads[k].any() for k in grads if k.startswith("decoder."))


def test_loss_terms_combine_with_gamma(rng):
    model = tiny_model(0.25)
    x, y = batch(rng)
    terms, _, logits = model.loss_and_gradients(x, y)
    assert terms.total == pytest.approx(0.25 * terms.reconstruction + 0.75 * terms.cross_entropy)
    assert model.loss(x, y) == pytest.approx(terms)
    np.testing.assert_allclose(logits, model.logits(x))


def test_default_architecture_is_the_study():
    model = SoftmaxAutoencoderNetwork(n_classes=4)
    shapes = {k: v.shape for k, v in model.parameters().items()}
    assert shapes["encoder.0.W"] == (500, 256) and shapes["encoder.6.W"] == (128, 64)
    assert shapes["decoder.0.W"] == (64, 128) and shapes["decoder.6.W"] == (256, 500)
    assert shapes["classifier.0.W"] == (64, 128) and shapes["classifier.2.W"] == (128, 4)
    assert model.n_parameters == 430_392
    assert model.gamma == 0.9


def test_first_layer_skips_the_input_gradient(rng):
    model = tiny_model()
    x, y = batch(rng)
    model.loss_and_gradients(x, y)
    assert model.encoder.backward(np.zeros((5, 3))) is None
    assert model.decoder.backward(np.zeros((5, 7))).shape == (5, 3)


def test_grads_match_parameter_keys_shapes_dtypes(rng):
    model = tiny_model(dtype=np.float32)
    x, y = batch(rng)
    _, grads, _ = model.loss_and_gradients(x.astype(np.float32), y)
    params = model.parameters()
    assert grads.keys() == params.keys()
    for k in params:
        assert grads[k].shape == params[k].shape and grads[k].dtype == np.float32


def test_float32_end_to_end(rng, monkeypatch):
    model = small_network(input_dim=20, classifier_hidden=128)
    x = rng.standard_normal((6, 20)).astype(np.float32)
    y = rng.integers(0, 3, 6)
    seen = []
    # Every array a layer produces, forward and backward, must stay float32.
    for part in (model.encoder, model.decoder, model.classifier):
        for layer in part.layers:
            for name in ("forward", "backward"):
                original = getattr(layer, name)

                def spy(a, _f=original):
                    out = _f(a)
                    if out is not None:  # the first layer skips its input gradient
                        seen.append(out.dtype)
                    return out
                monkeypatch.setattr(layer, name, spy)
    model.loss_and_gradients(x, y)
    assert seen and set(seen) == {np.dtype(np.float32)}
    assert model.predict_proba(x).dtype == np.float32
    assert model.encode(x).dtype == np.float32


def test_a_float32_training_step_never_computes_in_float64(rng, dtype_spy):
    # float64 scalars or arrays meeting float32 ones make NumPy upcast silently; every
    # operand of every ufunc in the forward and backward pass must be float32.
    model = small_network(input_dim=20, classifier_hidden=128)
    for part in (model.encoder, model.decoder, model.classifier):
        for layer in part.layers:
            for k in layer.params:
                layer.params[k] = layer.params[k].view(dtype_spy)
    model.input_mean = model.input_mean.view(dtype_spy)
    model.input_scale = model.input_scale.view(dtype_spy)
    x = rng.standard_normal((6, 20)).astype(np.float32).view(dtype_spy)
    model.loss_and_gradients(x, rng.integers(0, 3, 6))
    ufuncs = {name for name, _ in dtype_spy.seen}
    assert {"matmul", "exp", "add", "multiply"} <= ufuncs
    assert {dtype for _, dtype in dtype_spy.seen} == {np.dtype(np.float32)}


def test_same_seed_is_bit_identical_and_seeds_differ(rng):
    x, y = batch(rng)
    a, b, c = tiny_model(seed=5), tiny_model(seed=5), tiny_model(seed=6)
    for k in a.parameters():
        np.testing.assert_array_equal(a.parameters()[k], b.parameters()[k])
    assert not np.array_equal(a.parameters()["encoder.0.W"], c.parameters()["encoder.0.W"])
    la, ga, _ = a.loss_and_gradients(x, y)
    lb, gb, _ = b.loss_and_gradients(x, y)
    assert la == lb
    for k in ga:
        np.testing.assert_array_equal(ga[k], gb[k])
    np.testing.assert_array_equal(a.predict_proba(x), b.predict_proba(x))


def test_inference_shapes_and_consistency(rng):
    model = tiny_model()
    x, _ = batch(rng, n=9)
    proba = model.predict_proba(x)
    assert proba.shape == (9, 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_array_equal(model.predict(x), proba.argmax(axis=1))
    assert model.encode(x).shape == (9, 3)
    assert model.reconstruct(x).shape == (9, 7)


def test_reconstruct_returns_input_units(rng):
    model = tiny_model()
    x, _ = batch(rng)
    before = model.reconstruct(x)
    model.input_mean[:] = 10.0  # shift the scaling: output shifts by the same mean
    model.input_scale[:] = 1.0
    after = model.reconstruct(x + 10.0)
    np.testing.assert_allclose(after, before + 10.0)


def test_fit_scaling_standardizes_and_guards_constant_features(rng):
    model = tiny_model()
    x = rng.standard_normal((50, 7)) * 4 + 2
    x[:, 3] = 1.5
    model.fit_scaling(x)
    z = model._standardize(x)
    np.testing.assert_allclose(z.mean(axis=0), 0, atol=1e-12)
    assert model.input_scale[3] == 1.0
    np.testing.assert_allclose(np.delete(z.std(axis=0), 3), 1.0)


@pytest.mark.parametrize("x_shape, y, message", [
    ((4, 6), [0, 1, 2, 0], r"shape \(N, 7\)"),
    ((4, 7), [0, 1, 2, 3], r"labels must be in \[0, 2\]"),
    ((4, 7), [0, 1, -2, 0], r"labels must be in \[0, 2\] \(or -1 for unlabeled"),
    ((4, 7), [0.0, 1.0, 2.0, 0.0], "integer class labels"),
    ((4, 7), [0, 1, 2], r"y must have shape \(4,\)"),
])
def test_bad_batches_raise_clear_errors(x_shape, y, message):
    model = tiny_model()
    with pytest.raises(ValueError, match=message):
        model.loss_and_gradients(np.zeros(x_shape), np.array(y))


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_input_rejected(bad):
    x = np.zeros((2, 7))
    x[1, 3] = bad
    with pytest.raises(ValueError, match="NaN or inf"):
        tiny_model().predict(x)


@pytest.mark.parametrize("gamma", [-0.1, 1.5, "0.5", float("nan")])
def test_gamma_outside_unit_interval_rejected(gamma):
    with pytest.raises(ValueError, match="gamma must be"):
        tiny_model(gamma=gamma)


def test_bad_constructor_values():
    with pytest.raises(ValueError, match="dtype"):
        tiny_model(dtype=np.int32)
    with pytest.raises(ValueError, match="n_classes"):
        SoftmaxAutoencoderNetwork(n_classes=1)
