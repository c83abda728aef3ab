"""A scikit-learn style estimator around the network: fit, predict, score, transform, save, load.

:class:`SoftmaxAutoencoder` *has* a network (``network_``) rather than being
one, and keeps scikit-learn's habits: ``__init__`` only stores its settings,
``fit`` builds a fresh network from the data (unless ``warm_start``) and
returns self, learned state ends in an underscore, ``get_params`` and
``set_params`` work, and labels may be any sortable values (``classes_``).
"""

import numbers
import sys
import warnings

import numpy as np

from .metrics import accuracy
from .modelfile import ModelFileError, load_model_file, save_model_file
from .nn.model import CODE_ACTIVATIONS, HIDDEN_ACTIVATIONS, SoftmaxAutoencoderNetwork
from .nn.optim import OPTIMIZERS, make_optimizer
from .train import Trainer, WindowSource


class NotFittedError(ValueError, AttributeError):
    """The estimator was used before ``fit`` (the same double base as scikit-learn's)."""


class DataConversionWarning(UserWarning):
    """The data was converted to what the estimator needs (scikit-learn's name for it)."""


def _also_sklearns(ours):
    """``ours``, or a subclass of it and scikit-learn's class of the same name when
    scikit-learn is in use.

    scikit-learn is not a dependency, so it is never imported here; but a program that
    already uses it (GridSearchCV, check_estimator) catches or filters
    ``sklearn.exceptions.NotFittedError`` and ``DataConversionWarning``, and then what
    we raise or warn is an instance of both classes.
    """
    sklearn_exceptions = sys.modules.get("sklearn.exceptions")
    theirs = getattr(sklearn_exceptions, ours.__name__, None)
    if theirs is None:
        return ours
    return type(ours.__name__, (ours, theirs), {"__module__": __name__})


class SoftmaxAutoencoder:
    """The deep softmax autoencoder as an estimator on windows (N, n_features).

    Parameters
    ----------
    code_dim : int (64)
    encoder_hidden : tuple of int ((256, 192, 128))
    decoder_hidden : tuple of int (``()``: one linear layer from the code, the main
        job's default), or None to mirror the encoder (the study)
    classifier_hidden : int (128)
    gamma : float in [0, 1] (0.03, the main job's default: with standardized
        input the reconstruction sums ~500 squared errors)
    activation : "tanh", "sigmoid" or "relu"
    code_activation : activation of the code layer ("identity", the main job's
        default), or None for ``activation`` (the study's tanh)
    lr : float (1e-3)
    epochs : int (200)
    batch_size : int (512)
    optimizer : "adam", "sgd" or "momentum"
    weight_decay : float, decoupled (AdamW) decay; 0 is off
    patience : int or None, early stopping on the validation loss: of
        ``fit(..., validation_data=)``, or else of ``validation_fraction`` of the
        training rows held out (stratified by class), as MLPClassifier's early stopping
    validation_fraction : float in (0, 1) (0.1), the rows held out when ``patience`` is
        set and no validation data is given
    warm_start : bool (False). False: every ``fit`` starts from fresh weights
        and refits the input scaling; True: a second ``fit`` continues training
        the current network with its scaling.
    dtype : float32 (training) or float64 (gradient checks)
    random_state : int, numpy.random.Generator or None. An int gives the same
        fit every time; a Generator is used (and advanced) as given.
    verbose : bool, print one line per epoch

    Attributes
    ----------
    network_ : SoftmaxAutoencoderNetwork
    classes_ : ndarray (n_classes,), the sorted labels seen in the first fit
    n_features_in_ : int
    history_ : dict of per-epoch lists (see ``train.HISTORY_COLUMNS``)
    loss_curve_ : list of the training loss per epoch
    """

    def __init__(self, code_dim=64, encoder_hidden=(256, 192, 128), decoder_hidden=(),
                 classifier_hidden=128, gamma=0.03, activation="tanh", code_activation="identity",
                 lr=1e-3, epochs=200, batch_size=512, optimizer="adam", weight_decay=0.0,
                 patience=None, validation_fraction=0.1, warm_start=False,
                 dtype=np.float32, random_state=0,
                 verbose=False):
        self.code_dim = code_dim
        self.encoder_hidden = encoder_hidden
        self.decoder_hidden = decoder_hidden
        self.classifier_hidden = classifier_hidden
        self.gamma = gamma
        self.activation = activation
        self.code_activation = code_activation
        self.lr = lr
        self.epochs = epochs
        self.batch_size = batch_size
        self.optimizer = optimizer
        self.weight_decay = weight_decay
        self.patience = patience
        self.validation_fraction = validation_fraction
        self.warm_start = warm_start
        self.dtype = dtype
        self.random_state = random_state
        self.verbose = verbose

    # What scikit-learn's tools (is_classifier, GridSearchCV, cross_val_score) ask of a
    # classifier. sklearn is not a dependency: only sklearn itself calls __sklearn_tags__.
    _estimator_type = "classifier"

    def __sklearn_tags__(self):
        from sklearn.utils import ClassifierTags, InputTags, Tags, TargetTags, TransformerTags
        # Codes come out in the network's dtype (float32 unless dtype=float64): that is
        # the dtype transform preserves.
        return Tags(estimator_type="classifier", target_tags=TargetTags(required=True),
                    classifier_tags=ClassifierTags(),
                    transformer_tags=TransformerTags(preserves_dtype=[np.dtype(self.dtype).name]),
                    input_tags=InputTags(two_d_array=True))

    def expected_failed_checks(self):
        """scikit-learn estimator checks this estimator fails by design, with the reason:
        pass it as ``check_estimator(est, expected_failed_checks=est.expected_failed_checks())``.
        """
        if np.dtype(self.dtype) != np.float32:
            return {}
        reason = ("float32 by design (dtype=float32): a BLAS product of a batch rounds each "
                  "row slightly differently (~1e-7 relative) when the rows are reordered or "
                  "subset; with dtype=float64 the check passes")
        return {"check_methods_sample_order_invariance": reason,
                "check_methods_subset_invariance": reason}

    _ARCHITECTURE = ("code_dim", "encoder_hidden", "decoder_hidden", "classifier_hidden",
                     "gamma", "activation", "code_activation", "dtype")
    _TRAINING = ("lr", "epochs", "batch_size", "optimizer", "weight_decay", "patience",
                 "validation_fraction",
                 "warm_start", "random_state", "verbose")

    # ----- scikit-learn's parameter protocol ------------------------------------------------
    def get_params(self, deep=True):
        """The constructor's arguments as a dict."""
        return {name: getattr(self, name) for name in self._ARCHITECTURE + self._TRAINING}

    def set_params(self, **params):
        """Set constructor arguments; unknown names are an error. Returns self."""
        valid = self.get_params()
        for name, value in params.items():
            if name not in valid:
                raise ValueError(f"invalid parameter {name!r} for {type(self).__name__}; "
                                 f"valid: {', '.join(valid)}")
            setattr(self, name, value)
        return self

    def __repr__(self):
        defaults = type(self)().get_params()
        changed = [f"{k}={v!r}" for k, v in self.get_params().items()
                   if not _same(v, defaults[k])]
        return f"{type(self).__name__}({', '.join(changed)})"

    # ----- fitting ----------------------------------------------------------------------
    def _check_settings(self):
        for name in ("encoder_hidden", "decoder_hidden"):
            sizes = getattr(self, name)
            if name == "decoder_hidden" and sizes is None:
                continue  # None mirrors the encoder
            if (isinstance(sizes, (str, bytes)) or not hasattr(sizes, "__iter__")
                    or not all(isinstance(h, numbers.Integral) and not isinstance(h, bool)
                               and h >= 1 for h in sizes)):
                raise ValueError(f"{name} must be a tuple of layer sizes (positive ints), "
                                 f"such as (256, 128) or (), got {sizes!r}")
        _positive_int(self.code_dim, "code_dim")
        if (isinstance(self.classifier_hidden, bool)
                or not isinstance(self.classifier_hidden, numbers.Integral)
                or self.classifier_hidden < 0):
            raise ValueError(f"classifier_hidden must be an int >= 0 (0: no hidden layer), "
                             f"got {self.classifier_hidden!r}")
        _positive_int(self.epochs, "epochs")
        _positive_int(self.batch_size, "batch_size")
        if self.patience is not None:
            _positive_int(self.patience, "patience")
        if not (isinstance(self.validation_fraction, numbers.Real)
                and 0 < self.validation_fraction < 1):
            raise ValueError(f"validation_fraction must be in (0, 1), got "
                             f"{self.validation_fraction!r}")
        if not (isinstance(self.lr, numbers.Real) and 0 < self.lr < np.inf):
            raise ValueError(f"lr must be a positive number, got {self.lr!r}")
        if not (isinstance(self.weight_decay, numbers.Real) and 0 <= self.weight_decay < np.inf):
            raise ValueError(f"weight_decay must be a number >= 0, got {self.weight_decay!r}")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {', '.join(OPTIMIZERS)}, "
                             f"got {self.optimizer!r}")
        if self.activation not in HIDDEN_ACTIVATIONS:
            raise ValueError(f"activation must be one of {', '.join(HIDDEN_ACTIVATIONS)}, "
                             f"got {self.activation!r}")
        if self.code_activation is not None and self.code_activation not in CODE_ACTIVATIONS:
            raise ValueError(f"code_activation must be one of {', '.join(CODE_ACTIVATIONS)}, "
                             f"got {self.code_activation!r}")

    def _rng(self):
        if isinstance(self.random_state, np.random.Generator):
            return self.random_state
        if isinstance(self.random_state, np.random.RandomState):
            # scikit-learn's own kind of generator: draw a seed from it (and advance it).
            return np.random.default_rng(self.random_state.randint(0, 2 ** 31 - 1))
        if isinstance(self.random_state, numbers.Integral) and self.random_state < 0:
            raise ValueError(f"random_state must be an int >= 0, a numpy Generator or "
                             f"RandomState, or None, got {self.random_state!r}")
        if self.random_state is not None and not isinstance(self.random_state, numbers.Integral):
            raise ValueError(f"random_state must be an int, a numpy Generator or RandomState, "
                             f"or None, got {self.random_state!r}")
        return np.random.default_rng(self.random_state)

    def fit(self, X, y, validation_data=None):
        """Train on windows X (N, n_features) with labels y (N,); returns self.

        ``validation_data=(X_val, y_val)`` is scored every epoch and is needed
        for early stopping. Everything is checked before any state changes, so a
        failed fit leaves a fitted estimator as it was.
        """
        self._check_settings()
        names = _feature_names(X)
        X, y = _as_arrays(X, y, name=type(self).__name__, dtype=self.dtype)
        warm = self.warm_start and hasattr(self, "network_")
        classes = self.classes_ if warm else np.unique(y)
        if len(classes) < 2:
            raise ValueError(f"fit needs at least two classes in y; got {len(classes)} class: "
                             f"{classes.tolist()}")
        labels = _encode(y, classes)
        if warm:
            self._check_n_features(X)
        if warm:
            self._check_same_architecture()
        validation = None
        if validation_data is not None:
            if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
                raise ValueError("validation_data must be a pair (X_val, y_val)")
            X_val, y_val = _as_arrays(*validation_data, name=type(self).__name__,
                                      dtype=self.dtype)
            self._check_n_features(X_val, X.shape[1])
            validation = (X_val, _encode(y_val, classes))
        rng = self._rng()
        init_rng, train_rng = rng.spawn(2)
        if self.patience is not None and validation is None:
            X, labels, validation = _held_out(X, labels, self.validation_fraction,
                                              train_rng.spawn(1)[0])
        if warm:
            network = self.network_
        else:
            network = SoftmaxAutoencoderNetwork(
                input_dim=X.shape[1], n_classes=len(classes), code_dim=self.code_dim,
                encoder_hidden=self.encoder_hidden, decoder_hidden=self.decoder_hidden,
                classifier_hidden=self.classifier_hidden, gamma=self.gamma,
                activation=self.activation, code_activation=self.code_activation,
                dtype=self.dtype, seed=init_rng)
            network.fit_scaling(X)
        for x_check, y_check in ((X, labels), validation or (X[:0], labels[:0])):
            network._check_y(y_check, len(network._check_x(x_check)))
        if warm:  # only now: a fit refused above leaves the fitted network as it was
            network.gamma = self.gamma
        trainer = Trainer(network, make_optimizer(self.optimizer, self.lr, self.weight_decay),
                          WindowSource(network._check_x(X), labels), validation=validation,
                          batch_size=self.batch_size, rng=train_rng, patience=self.patience,
                          log=print if self.verbose else None)
        history = trainer.fit(self.epochs)
        self.network_, self.classes_, self.n_features_in_ = network, classes, X.shape[1]
        if names is not None:
            self.feature_names_in_ = names
        elif hasattr(self, "feature_names_in_"):
            del self.feature_names_in_
        self.history_ = history
        self.loss_curve_ = list(history["loss"])
        return self

    def _check_same_architecture(self):
        """warm_start continues the fitted network: settings that would need another
        network are an error, not silently ignored."""
        config = self.network_.config()
        for name in ("code_dim", "encoder_hidden", "decoder_hidden", "classifier_hidden",
                     "activation", "code_activation"):
            fitted, wanted = config[name], getattr(self, name)
            fitted = tuple(fitted) if isinstance(fitted, list) else fitted
            wanted = tuple(wanted) if isinstance(wanted, list) else wanted
            if name == "decoder_hidden" and wanted is None:
                wanted = tuple(reversed(tuple(self.encoder_hidden)))
            if fitted != wanted:
                raise ValueError(f"warm_start=True continues the fitted network, whose {name} "
                                 f"is {fitted!r}, not {wanted!r}: set warm_start=False for a "
                                 "fresh fit")

    # ----- using a fitted estimator -----------------------------------------------------
    def _fitted(self):
        if not hasattr(self, "network_"):
            raise _also_sklearns(NotFittedError)(f"this {type(self).__name__} is not fitted "
                                                 "yet; call fit first")
        return self.network_

    def _check_n_features(self, X, expected=None):
        expected = self.n_features_in_ if expected is None else expected
        if X.shape[1] != expected:
            raise ValueError(f"X has {X.shape[1]} features, but {type(self).__name__} is "
                             f"expecting {expected} features as input")

    def _network_and_X(self, X):
        """The fitted network and X checked as scikit-learn checks what a fitted model reads:
        columns named at fit must come with the same names in the same order."""
        network = self._fitted()
        self._check_feature_names(X)
        X = _as_features(X, network.dtype)
        self._check_n_features(X)
        return network, X

    def _check_feature_names(self, X):
        fitted, given = getattr(self, "feature_names_in_", None), _feature_names(X)
        if fitted is None or given is None:
            if (fitted is None) != (given is None):
                warnings.warn(f"X {'does not have' if given is None else 'has'} valid feature "
                              f"names, but {type(self).__name__} was fitted "
                              f"{'with' if given is None else 'without'} feature names")
            return
        if len(given) != len(fitted) or (given != fitted).any():
            raise ValueError("The feature names should match those that were passed during "
                             f"fit (in the same order): fitted with {list(fitted)[:5]}..., "
                             f"given {list(given)[:5]}...")

    def get_feature_names_out(self, input_features=None):
        """Names of ``transform``'s columns: the code units, ``code0`` ... ``code{k-1}``."""
        self._fitted()
        return np.array([f"code{i}" for i in range(self.network_.code_dim)], dtype=object)

    def set_output(self, *, transform=None):
        """``transform="pandas"`` makes ``transform`` return a DataFrame with the columns
        of :meth:`get_feature_names_out` (scikit-learn's set_output API); "default" or None
        keeps arrays."""
        if transform not in (None, "default", "pandas"):
            raise ValueError(f"transform must be 'default' or 'pandas', got {transform!r}")
        if transform is not None:
            self._output = transform
        return self

    def _as_output(self, codes, X):
        if getattr(self, "_output", "default") != "pandas":
            return codes
        import pandas as pd
        return pd.DataFrame(codes, columns=self.get_feature_names_out(),
                            index=getattr(X, "index", None))

    def predict_proba(self, X):
        """Class probabilities (N, n_classes), columns in the order of ``classes_``."""
        network, X = self._network_and_X(X)
        return network.predict_proba(X)

    def predict(self, X):
        """Most probable label per window (N,), values from ``classes_``."""
        network, X = self._network_and_X(X)
        return self.classes_[network.predict(X)]

    def transform(self, X):
        """Codes of the windows: (N, n_features) -> (N, code_dim), in the estimator's dtype."""
        network, given = self._network_and_X(X)
        return self._as_output(network.encode(given), X)

    def fit_transform(self, X, y, **fit_params):
        return self.fit(X, y, **fit_params).transform(X)

    def reconstruct(self, X):
        """Reconstructions g(f(X)) in the units of X (N, n_features)."""
        network, X = self._network_and_X(X)
        return network.reconstruct(X)

    def score(self, X, y):
        """Window-level accuracy on (X (N, n_features), y (N,)); y is checked as in ``fit``
        (a column vector is raveled with a warning, never broadcast)."""
        predicted = self.predict(X)
        return accuracy(_as_labels(y, len(predicted), "score"), predicted)

    # ----- files ----------------------------------------------------------------------
    def save(self, path, meta=None):
        """Write the network and the settings to a model file (atomically).

        The estimator's parameters and ``classes_`` go into the file's metadata
        beside the architecture, so any numpy_sae loader can read the network.
        """
        network = self._fitted()
        if self.classes_.dtype.kind not in "biufU":
            raise ValueError(f"cannot save labels of dtype {self.classes_.dtype}: use numbers "
                             "or strings")
        settings = {k: v for k, v in self.get_params().items()
                    if k in self._TRAINING and k != "random_state"}
        settings["random_state"] = (self.random_state if isinstance(self.random_state, int)
                                    else None)
        # The dtype keeps labels JSON alone would change (uint64 above 2**63 read back
        # as float64, int8 as int64).
        save_model_file(path, network, {**(meta or {}), "estimator": settings,
                                        "classes": self.classes_.tolist(),
                                        "classes_dtype": self.classes_.dtype.str})

    @classmethod
    def load(cls, path):
        """Read a model file written by :meth:`save` or the main job."""
        network, meta, _ = load_model_file(path, SoftmaxAutoencoderNetwork)
        settings = {k: v for k, v in meta.get("estimator", {}).items() if k in cls._TRAINING}
        config = {k: tuple(v) if isinstance(v, list) else v  # JSON turned tuples into lists
                  for k, v in network.config().items()}
        estimator = cls(**{k: config[k] for k in cls._ARCHITECTURE if k in config}, **settings)
        estimator.dtype = network.dtype
        # The main job's files name their genres; the estimator's record its classes.
        classes = _stored_classes(path, meta, network.n_classes)
        if classes.shape != (network.n_classes,):
            raise ModelFileError(f"{path}: {len(classes)} class labels for a network with "
                                 f"{network.n_classes} classes")
        estimator.network_, estimator.classes_ = network, classes
        estimator.n_features_in_ = network.input_dim
        return estimator


def _stored_classes(path, meta, n_classes):
    """The class labels a model file records, in the dtype they were fitted with."""
    labels = meta.get("classes", meta.get("genre_names", list(range(n_classes))))
    kind = meta.get("classes_dtype")
    try:
        dtype = None if kind is None else np.dtype(kind)
        if dtype is not None and dtype.kind not in "biufU":
            raise TypeError(f"labels of dtype {dtype}")
        return np.asarray(labels, dtype=dtype)
    except (TypeError, ValueError, OverflowError) as exc:
        raise ModelFileError(f"{path}: its class labels cannot be read ({exc})") from None


def _same(a, b):
    try:
        return bool(a == b)
    except (TypeError, ValueError):
        return a is b


def _positive_int(value, name):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")


def _held_out(X, labels, fraction, rng):
    """(X_train, labels_train, (X_val, labels_val)): ``fraction`` of each class's rows
    (at least one, when the class has two or more) held out for early stopping."""
    held = []
    for c in np.unique(labels):
        rows = rng.permutation(np.flatnonzero(labels == c))
        if len(rows) >= 2:
            held.extend(rows[:max(1, int(round(fraction * len(rows))))])
    if not held:
        raise ValueError("early stopping without validation_data holds out part of each "
                         "class, and no class has two rows: pass validation_data")
    keep = np.ones(len(labels), dtype=bool)
    keep[held] = False
    return X[keep], labels[keep], (X[~keep], labels[~keep])


def _feature_names(X):
    """The column names of a DataFrame whose columns are all strings, else None (as
    scikit-learn records ``feature_names_in_``)."""
    columns = getattr(X, "columns", None)
    if columns is None:
        return None
    names = np.asarray(list(columns), dtype=object)
    return names if len(names) and all(isinstance(n, str) for n in names) else None


def _as_features(X, dtype=np.float32):
    """X as a 2-d array of real numbers that ``dtype`` holds, refused the way
    scikit-learn refuses it.

    scikit-learn is not a dependency, so this is its ``check_array`` written with NumPy:
    the same conditions and the same messages, which its tools and checks look for.
    """
    if type(X).__module__.startswith("scipy.sparse"):
        raise TypeError("Sparse data was passed for X, but dense data is required. Use "
                        "'.toarray()' to convert to a dense numpy array.")
    X = np.asarray(X)
    if X.dtype.kind == "O":
        X = X.astype(np.float64)  # numbers stored as objects; anything else is a TypeError
    if X.dtype.kind == "c":
        raise ValueError("Complex data not supported: X holds complex numbers")
    if X.ndim == 1:
        raise ValueError(f"Expected 2D array, got 1D array instead: X has shape {X.shape}. "
                         "Reshape your data either using array.reshape(-1, 1) if your data has "
                         "a single feature or array.reshape(1, -1) if it contains a single "
                         "sample.")
    if X.ndim != 2:
        raise ValueError(f"X must have shape (N, n_features), got {X.shape}")
    if X.dtype.kind not in "biuf":
        raise ValueError(f"X must hold real numbers, got dtype {X.dtype}")
    if X.shape[0] == 0:
        raise ValueError(f"Found array with 0 sample(s) (shape={X.shape}) while a minimum of 1 "
                         "is required.")
    if X.shape[1] == 0:
        raise ValueError(f"Found array with 0 feature(s) (shape={X.shape}) while a minimum of 1 "
                         "is required.")
    if X.dtype.kind == "f":
        if np.isnan(X).any():
            raise ValueError("Input X contains NaN.")
        # Finite float64 beyond float32's range would become inf in training.
        if not (np.abs(X) <= np.finfo(dtype).max).all():
            raise ValueError(f"Input X contains infinity or a value too large for "
                             f"dtype('{np.dtype(dtype).name}').")
    return X


def _as_labels(y, n, name):
    """y as a 1-d array of class labels for n samples (ints, floats that are integers, or
    strings); a column vector is raveled with a warning, as scikit-learn does."""
    if y is None:
        raise ValueError(f"{name} requires y to be passed, but the target y is None.")
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        warnings.warn("A column-vector y was passed when a 1d array was expected. Please "
                      "change the shape of y to (n_samples, ), for example using ravel().",
                      _also_sklearns(DataConversionWarning), stacklevel=3)
        y = y.ravel()
    if y.ndim != 1:
        raise ValueError(f"y should be a 1d array, got an array of shape {y.shape} instead.")
    if y.shape != (n,):
        raise ValueError(f"y must have shape ({n},) to match X, got {y.shape}")
    if y.dtype.kind == "O":
        y = _object_labels(y)
    if y.dtype.kind == "c":
        raise ValueError("Unknown label type: complex")
    if y.dtype.kind == "f":
        if not np.isfinite(y).all():
            raise ValueError("y contains NaN or infinite labels")
        if (y != np.round(y)).any():
            raise ValueError("Unknown label type: continuous. A classifier needs class labels; "
                             "y holds non-integer numbers")
    return y


def _object_labels(y):
    """An object column (e.g. pandas') as the labels it holds: integers stay integers,
    strings stay strings; anything else is refused, never turned into text."""
    values = y.tolist()
    if all(isinstance(v, str) for v in values):
        return y.astype(str)
    if all(isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in values):
        return y.astype(np.int64)
    if all(isinstance(v, numbers.Real) and not isinstance(v, bool) for v in values):
        return y.astype(np.float64)
    kinds = sorted({type(v).__name__ for v in values})
    raise ValueError(f"Unknown label type: y holds values of types {', '.join(kinds)}; use "
                     "integers or strings")


def _as_arrays(X, y, name="SoftmaxAutoencoder", dtype=np.float32):
    X = _as_features(X, dtype)
    return X, _as_labels(y, len(X), name)


def _encode(y, classes):
    """Labels -> indices into ``classes``; a label not among them is an error."""
    index = np.searchsorted(classes, y)
    index = np.clip(index, 0, len(classes) - 1)
    unknown = classes[index] != y
    if unknown.any():
        raise ValueError(f"y holds labels not seen in the first fit: {np.unique(y[unknown])[:5]}")
    return index.astype(np.int64)
