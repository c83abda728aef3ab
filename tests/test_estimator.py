"""SoftmaxAutoencoder behaves like a scikit-learn estimator."""

import warnings

import numpy as np
import pytest

from numpy_sae import SoftmaxAutoencoder, SoftmaxClassifier
from numpy_sae.estimator import NotFittedError
from numpy_sae.modelfile import ModelFileError, load_model_file, save_model_file


def blobs(rng, n=90, d=12, labels=(0, 1, 2)):
    y = np.asarray(labels)[rng.integers(0, len(labels), n)]
    index = np.searchsorted(np.sort(labels), y)
    x = rng.standard_normal((n, d)).astype(np.float32) + 2 * index[:, None]
    return x, y


def small(**kw):
    settings = dict(code_dim=4, encoder_hidden=(10,), classifier_hidden=8, gamma=0.1, lr=1e-2,
                    epochs=25, batch_size=16)
    return SoftmaxAutoencoder(**{**settings, **kw})


def test_fit_predict_score_transform_save_load(rng, tmp_path):
    x, y = blobs(rng)
    est = small()
    assert est.fit(x, y, validation_data=(x[:30], y[:30])) is est
    assert len(est.loss_curve_) == 25 and est.history_["val_accuracy"][-1] > 0.8
    assert est.score(x, y) > 0.8 and est.n_features_in_ == 12
    assert est.transform(x).shape == (90, 4) and est.predict_proba(x).shape == (90, 3)
    assert est.reconstruct(x).shape == (90, 12)
    est.save(tmp_path / "est.npz")
    again = SoftmaxAutoencoder.load(tmp_path / "est.npz")
    assert isinstance(again, SoftmaxAutoencoder) and again.lr == 1e-2 and again.code_dim == 4
    assert again.get_params() == est.get_params() | {"dtype": np.dtype(np.float32)}
    np.testing.assert_array_equal(again.predict(x), est.predict(x))


def test_init_only_stores_settings_and_get_set_params_round_trip():
    est = SoftmaxAutoencoder(code_dim=8, lr=0.5)
    assert not hasattr(est, "network_")
    params = est.get_params()
    assert params["code_dim"] == 8 and params["lr"] == 0.5
    assert SoftmaxAutoencoder(**params).get_params() == params
    assert est.set_params(epochs=3) is est and est.epochs == 3
    with pytest.raises(ValueError, match="invalid parameter 'n_classes'"):
        est.set_params(n_classes=3)
    assert repr(est) == "SoftmaxAutoencoder(code_dim=8, lr=0.5, epochs=3)"


def test_defaults_are_the_main_jobs():
    from numpy_sae.commands.experiment import RunSettings
    job, est = RunSettings(), SoftmaxAutoencoder()
    assert (est.lr, est.gamma, est.epochs, est.batch_size, est.code_dim) == \
        (job.lr, job.gamma, job.epochs, job.batch_size, job.code_dim)
    assert est.code_activation == job.code_activation == "identity"
    assert est.decoder_hidden == () and job.decoder == "linear"
    assert est.warm_start is False


def test_fit_twice_is_two_fresh_fits_unless_warm_start(rng):
    x, y = blobs(rng)
    est = small(epochs=3)
    first = est.fit(x, y).predict_proba(x)
    network = est.network_
    second = est.fit(x, y).predict_proba(x)
    assert est.network_ is not network
    np.testing.assert_array_equal(first, second)  # an int random_state: the same fit
    warm = small(epochs=3, warm_start=True).fit(x, y)
    network, mean = warm.network_, warm.network_.input_mean.copy()
    before = warm.predict_proba(x)
    warm.fit(x + 5, y)  # continues: same network, scaling not refitted
    assert warm.network_ is network
    np.testing.assert_array_equal(warm.network_.input_mean, mean)
    assert not np.array_equal(warm.predict_proba(x), before)


def test_a_generator_random_state_is_used_not_replaced(rng):
    x, y = blobs(rng)
    a = small(epochs=2, random_state=np.random.default_rng(5)).fit(x, y)
    b = small(epochs=2, random_state=np.random.default_rng(5)).fit(x, y)
    c = small(epochs=2, random_state=0).fit(x, y)
    np.testing.assert_array_equal(a.predict_proba(x), b.predict_proba(x))
    assert not np.array_equal(a.predict_proba(x), c.predict_proba(x))
    gen = np.random.default_rng(5)
    est = small(epochs=2, random_state=gen)
    est.fit(x, y)
    second = est.fit(x, y).predict_proba(x)  # the generator advanced: another fit
    assert not np.array_equal(second, a.predict_proba(x))


def test_labels_of_any_sortable_kind(rng, tmp_path):
    x, y = blobs(rng, labels=("jazz", "metal", "pop"))
    est = small().fit(x, y)
    assert est.classes_.tolist() == ["jazz", "metal", "pop"]
    assert set(est.predict(x)) <= {"jazz", "metal", "pop"} and est.score(x, y) > 0.8
    est.save(tmp_path / "m.npz")
    assert SoftmaxAutoencoder.load(tmp_path / "m.npz").classes_.tolist() == est.classes_.tolist()


@pytest.mark.parametrize("setting, message", [
    ({"epochs": -1}, "epochs must be a positive integer"),
    ({"epochs": 2.5}, "epochs must be a positive integer"),
    ({"lr": float("nan")}, "lr must be a positive number"),
    ({"activation": "bogus"}, "activation must be one of tanh, sigmoid, relu"),
    ({"code_activation": "bogus"}, "code_activation must be one of"),
    ({"optimizer": "rmsprop"}, "optimizer must be one of"),
])
def test_bad_settings_are_clear_errors(setting, message, rng):
    x, y = blobs(rng)
    with pytest.raises(ValueError, match=message):
        small(**setting).fit(x, y)


def test_a_failed_fit_leaves_a_fitted_estimator_as_it_was(rng, tmp_path):
    x, y = blobs(rng)
    est = small(epochs=2).fit(x, y)
    before = est.predict_proba(x)
    for bad in ((x[:0], y[:0]), (np.full_like(x, np.nan), y), (x, y[:10]), (x, np.zeros_like(y))):
        with pytest.raises(ValueError):
            est.fit(*bad)
        np.testing.assert_array_equal(est.predict_proba(x), before)
    est.save(tmp_path / "still.npz")
    SoftmaxAutoencoder.load(tmp_path / "still.npz")


def test_unfitted_use_is_a_clear_error(rng):
    with pytest.raises(NotFittedError, match="not fitted yet"):
        small().predict(rng.standard_normal((2, 12)))


def test_model_files_record_their_class(tmp_path):
    head = SoftmaxClassifier(input_dim=6, n_classes=3, hidden=5, seed=1)
    save_model_file(tmp_path / "head.npz", head)
    loaded, _, _ = load_model_file(tmp_path / "head.npz")
    assert isinstance(loaded, SoftmaxClassifier)
    for k, v in head.parameters().items():
        np.testing.assert_array_equal(loaded.parameters()[k], v)
    with pytest.raises(ModelFileError, match="holds a SoftmaxClassifier, not a SoftmaxAutoencoderNetwork"):
        SoftmaxAutoencoder.load(tmp_path / "head.npz")


def test_scikit_learns_own_tools_accept_it():
    # scikit-learn is a test-only extra: the package itself never imports it.
    from sklearn.base import clone, is_classifier
    from sklearn.model_selection import GridSearchCV, cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    rng = np.random.default_rng(0)
    y = rng.choice(["jazz", "metal", "pop"], 120)
    X = rng.standard_normal((120, 12)).astype(np.float32) + (y == "metal")[:, None]
    est = SoftmaxAutoencoder(code_dim=3, encoder_hidden=(6,), classifier_hidden=5, epochs=2,
                             batch_size=32)
    assert is_classifier(est) and clone(est).get_params() == est.get_params()
    scores = cross_val_score(make_pipeline(StandardScaler(), est), X, y, cv=3)
    assert scores.shape == (3,) and np.all((0 <= scores) & (scores <= 1))
    search = GridSearchCV(est, {"gamma": [0.0, 0.5]}, cv=2).fit(X, y)
    assert search.best_params_["gamma"] in (0.0, 0.5)
    est.set_params(random_state=np.random.RandomState(0)).fit(X, y)  # sklearn's generator


def test_a_refused_warm_fit_changes_nothing_and_architecture_changes_are_refused(rng, tmp_path):
    y = rng.integers(0, 2, 60)
    X = rng.standard_normal((60, 8)).astype(np.float32)
    est = SoftmaxAutoencoder(code_dim=4, encoder_hidden=(6,), epochs=1, warm_start=True).fit(X, y)
    with pytest.raises(ValueError):
        est.set_params(gamma=0.7).fit(X, y, validation_data=(X[:, :3], y))
    assert est.network_.gamma == 0.03  # the failed fit left the network alone
    with pytest.raises(ValueError, match="whose code_dim is 4, not 16"):
        est.set_params(code_dim=16).fit(X, y)
    with pytest.raises(ValueError, match="NaN"):
        SoftmaxAutoencoder(epochs=1).fit(X, np.where(y == 0, np.nan, 1.0))
    # Float labels that are whole numbers are classes; 0.5 is a regression target, refused
    # as scikit-learn refuses it.
    floats = SoftmaxAutoencoder(code_dim=2, encoder_hidden=(4,), epochs=1).fit(X, y * 2.0)
    floats.save(tmp_path / "m.npz")
    assert SoftmaxAutoencoder.load(tmp_path / "m.npz").classes_.tolist() == [0.0, 2.0]
    with pytest.raises(ValueError, match="Unknown label type: continuous"):
        SoftmaxAutoencoder(epochs=1).fit(X, y * 0.5)


def test_scikit_learns_own_estimator_checks_pass_or_are_declared():
    pytest.importorskip("sklearn")
    from sklearn.utils.estimator_checks import (check_estimator,
                                                check_methods_sample_order_invariance,
                                                check_methods_subset_invariance)
    est = SoftmaxAutoencoder(random_state=0, epochs=3)
    declared = est.expected_failed_checks()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # sklearn's notes: not a BaseEstimator, no pandas
        results = check_estimator(est, on_fail=None, expected_failed_checks=declared)
    failed = {r["check_name"]: str(r["exception"])[:200] for r in results
              if r["status"] == "failed"}
    assert not failed
    assert len(results) >= 60 and set(declared) <= {r["check_name"] for r in results}
    assert all(len(reason) > 40 for reason in declared.values())
    # In float64 the declared checks pass: the failures are float32 rounding, not order.
    exact = SoftmaxAutoencoder(random_state=0, epochs=3, dtype=np.float64)
    assert exact.expected_failed_checks() == {}
    for check in (check_methods_sample_order_invariance, check_methods_subset_invariance):
        check("SoftmaxAutoencoder", exact)


def test_object_labels_keep_their_type_and_unfitted_use_is_named(rng):
    x, y = blobs(rng, n=60)
    est = small(epochs=3).fit(x, y.astype(object))
    assert est.classes_.dtype.kind == "i" and est.score(x, y) == est.score(x, y.astype(object))
    assert set(est.predict(x).tolist()) <= {0, 1, 2}
    with pytest.raises(ValueError, match="Unknown label type"):
        small(epochs=1).fit(x, np.array([0, "a"] * 30, dtype=object))
    with pytest.raises(ValueError, match="Unknown label type: continuous"):
        small(epochs=1).fit(x, rng.standard_normal(60))
    with pytest.raises(NotFittedError):
        small().predict(x)
    with pytest.raises(ValueError, match="X has 11 features, but SoftmaxAutoencoder is expecting"):
        est.transform(x[:, :11])


def test_score_takes_a_column_vector_y_as_fit_does():
    # Round 5, W7: (N, 1) against (N,) broadcast to N x N comparisons and gave 0.5.
    rng = np.random.default_rng(0)
    X = rng.standard_normal((40, 12)).astype(np.float32)
    y = np.array([0, 1] * 20)
    est = SoftmaxAutoencoder(epochs=1, encoder_hidden=(8,), code_dim=3, random_state=0).fit(X, y)
    flat = est.score(X, y)
    with pytest.warns(UserWarning, match="column-vector y"):
        assert est.score(X, y.reshape(-1, 1)) == flat
    with pytest.raises(ValueError, match="shape"):
        est.score(X, y[:10])


class _Frame:
    """Just what a DataFrame shows the estimator: named columns, and its values."""

    def __init__(self, values, columns):
        self.values, self.columns = np.asarray(values), list(columns)

    def __array__(self, dtype=None, copy=None):
        return self.values if dtype is None else self.values.astype(dtype)

    def __getitem__(self, columns):
        return _Frame(self.values[:, [self.columns.index(c) for c in columns]], columns)


def test_feature_names_are_kept_and_checked_as_scikit_learn_does():
    # Audit G7: a DataFrame with reordered columns predicted silently.
    rng = np.random.default_rng(0)
    names = [f"f{i}" for i in range(6)]
    frame = _Frame(rng.standard_normal((30, 6)).astype(np.float32), names)
    y = np.array([0, 1, 2] * 10)
    est = SoftmaxAutoencoder(epochs=1, encoder_hidden=(5,), code_dim=3).fit(frame, y)
    assert est.feature_names_in_.tolist() == names
    assert est.predict(frame).shape == (30,)
    with pytest.raises(ValueError, match="feature names should match"):
        est.predict(frame[names[::-1]])
    with pytest.warns(UserWarning, match="does not have valid feature names"):
        est.predict(frame.values)
    assert est.get_feature_names_out().tolist() == ["code0", "code1", "code2"]
    assert est.set_output(transform="default") is est
    with pytest.raises(ValueError, match="'default' or 'pandas'"):
        est.set_output(transform="polars")


def test_set_output_pandas_gives_a_dataframe_of_codes():
    pd = pytest.importorskip("pandas", reason="pandas is not a test dependency")
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.standard_normal((20, 4)), columns=list("abcd"))
    est = SoftmaxAutoencoder(epochs=1, encoder_hidden=(5,), code_dim=2).fit(X, [0, 1] * 10)
    codes = est.set_output(transform="pandas").transform(X)
    assert list(codes.columns) == ["code0", "code1"] and (codes.index == X.index).all()


def test_early_stopping_holds_out_rows_when_no_validation_data_is_given():
    # Audit G8: patience needed validation_data, so GridSearchCV could not use it.
    from sklearn.model_selection import GridSearchCV
    rng = np.random.default_rng(0)
    X = rng.standard_normal((120, 8)).astype(np.float32)
    y = np.array([0, 1, 2] * 40)
    est = SoftmaxAutoencoder(epochs=30, patience=1, encoder_hidden=(6,), code_dim=3, lr=0.05)
    est.fit(X, y)
    assert np.isfinite(est.history_["val_loss"]).all() and len(est.history_["val_loss"]) <= 30
    search = GridSearchCV(est, {"code_dim": [2, 3]}, cv=2, error_score="raise").fit(X, y)
    assert search.best_params_["code_dim"] in (2, 3)
    with pytest.raises(ValueError, match="validation_fraction must be in"):
        SoftmaxAutoencoder(patience=1, validation_fraction=1.5).fit(X, y)


def test_labels_keep_their_dtype_through_a_file(rng, tmp_path):
    # Round 5, W9: uint64 labels above 2**63 came back as float64 (2**64 - 1 -> 2**64).
    x = rng.standard_normal((40, 12)).astype(np.float32)
    for labels in (np.array([0, 2 ** 64 - 1], dtype=np.uint64), np.array([-3, 7], np.int8),
                   np.array(["jazz", "pop"])):
        y = labels[np.arange(40) % 2]
        est = SoftmaxAutoencoder(epochs=1, encoder_hidden=(8,), code_dim=3).fit(x, y)
        est.save(tmp_path / "u.npz")
        again = SoftmaxAutoencoder.load(tmp_path / "u.npz")
        assert again.classes_.dtype == labels.dtype
        np.testing.assert_array_equal(again.classes_, labels)
        np.testing.assert_array_equal(again.predict(x), est.predict(x))
        assert set(again.predict(x)) <= set(labels.tolist())


@pytest.mark.parametrize("change, message", [
    (dict(X=np.full((40, 12), 1e39)), r"Input X contains infinity or a value too large for "
                                      r"dtype\('float32'\)"),
    (dict(X=np.full((40, 12), np.nan)), r"Input X contains NaN"),
    (dict(encoder_hidden=8), r"encoder_hidden must be a tuple of layer sizes .* got 8"),
    (dict(decoder_hidden=(8, "a")), r"decoder_hidden must be a tuple of layer sizes"),
    (dict(classifier_hidden=-1), r"classifier_hidden must be an int >= 0"),
])
def test_estimator_messages_say_what_is_wrong(rng, change, message):
    # Round 5, U14: finite float64 beyond float32's range was "x contains NaN or inf",
    # encoder_hidden=8 a TypeError.
    X = change.pop("X", rng.standard_normal((40, 12)))
    y = np.array([0, 1] * 20)
    with pytest.raises(ValueError, match=message):
        SoftmaxAutoencoder(epochs=1, **change).fit(X, y)


def test_saving_to_a_folder_names_it(rng, tmp_path):
    x, y = blobs(rng)
    est = small(epochs=1).fit(x, y)
    with pytest.raises(IsADirectoryError, match=r"is a folder: give the file to write, such as"):
        est.save(tmp_path)
    with pytest.raises(IsADirectoryError, match=r"^\. is a folder"):
        est.save(".")
