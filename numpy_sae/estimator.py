"""A scikit-learn style face for the network: fit, predict, score, transform, save, load.

:class:`SoftmaxAutoencoder` *is* the network (a subclass), with training
settings as constructor arguments and the habits scikit-learn users have:
``fit`` returns self, learned state ends in an underscore (``history_``,
``loss_curve_``). It depends on the training code; the network does not.
"""

import numpy as np

from .modelfile import load_model_file, save_model_file
from .metrics import accuracy
from .nn.model import SoftmaxAutoencoderNetwork
from .train import Trainer, WindowSource, make_optimizer


class SoftmaxAutoencoder(SoftmaxAutoencoderNetwork):
    """The deep softmax autoencoder as an estimator.

    Parameters
    ----------
    input_dim, n_classes, code_dim, encoder_hidden, decoder_hidden, classifier_hidden,
    gamma, activation, dtype, seed :
        The architecture, as for :class:`~numpy_sae.model.SoftmaxAutoencoderNetwork`
        (defaults: the study's 500 -> 256 -> 192 -> 128 -> 64 network, gamma 0.9).
    lr : float (1e-4)
    epochs : int (200)
    batch_size : int (512)
    optimizer : "adam", "sgd" or "momentum"
    weight_decay : float, decoupled (AdamW) decay; 0 is off
    patience : int or None, early stopping on the validation loss
    standardize : bool, fit the input scaling on the training data in ``fit``
    verbose : bool, print one line per epoch

    Attributes
    ----------
    history_ : dict of per-epoch lists (see ``train.HISTORY_COLUMNS``)
    loss_curve_ : list of the training loss per epoch
    """

    def __init__(self, input_dim=500, n_classes=4, code_dim=64, encoder_hidden=(256, 192, 128),
                 decoder_hidden=None, classifier_hidden=128, gamma=0.9, activation="tanh",
                 dtype=np.float32, seed=0, lr=1e-4, epochs=200, batch_size=512,
                 optimizer="adam", weight_decay=0.0, patience=None, standardize=True,
                 verbose=False):
        super().__init__(input_dim=input_dim, n_classes=n_classes, code_dim=code_dim,
                         encoder_hidden=encoder_hidden, decoder_hidden=decoder_hidden,
                         classifier_hidden=classifier_hidden, gamma=gamma, activation=activation,
                         dtype=dtype, seed=seed)
        self.seed = seed if isinstance(seed, (int, np.integer)) else 0
        self.lr, self.epochs, self.batch_size = lr, epochs, batch_size
        self.optimizer, self.weight_decay, self.patience = optimizer, weight_decay, patience
        self.standardize, self.verbose = standardize, verbose
        self.history_ = None
        self.loss_curve_ = None

    _TRAINING = ("lr", "epochs", "batch_size", "optimizer", "weight_decay", "patience",
                 "standardize")

    def fit(self, x, y, validation_data=None):
        """Train on windows x (N, input_dim) with labels y (N,); returns self.

        Training continues from the current weights (call it again to train
        more); ``validation_data=(x_val, y_val)`` is scored every epoch and is
        needed for early stopping.
        """
        x = self._check_x(x)
        y = self._check_y(y, len(x))
        if validation_data is not None:
            x_val = self._check_x(validation_data[0])
            validation_data = (x_val, self._check_y(validation_data[1], len(x_val)))
        if self.standardize:
            self.fit_scaling(x)
        trainer = Trainer(self, make_optimizer(self.optimizer, self.lr, self.weight_decay),
                          WindowSource(x, y), validation=validation_data,
                          batch_size=self.batch_size, rng=np.random.default_rng(self.seed),
                          patience=self.patience, log=print if self.verbose else None)
        self.history_ = trainer.fit(self.epochs)
        self.loss_curve_ = list(self.history_["loss"])
        return self

    def transform(self, x):
        """Codes of the windows: (N, input_dim) -> (N, code_dim)."""
        return self.encode(x)

    def score(self, x, y):
        """Window-level accuracy on (x (N, input_dim), y (N,))."""
        return accuracy(self._check_y(y, len(x)), self.predict(x))

    def save(self, path, meta=None):
        """Write weights, scaling and settings to a model file (atomically).

        The training settings go into the file's metadata (under "estimator"),
        beside the architecture, so any numpy_sae loader can read the network.
        """
        training = {name: getattr(self, name) for name in self._TRAINING}
        save_model_file(path, self, {**(meta or {}), "estimator": training})

    @classmethod
    def load(cls, path):
        """Read a model file written by :meth:`save` or the main job."""
        model, meta, _ = load_model_file(path, cls=cls)
        for name, value in meta.get("estimator", {}).items():
            if name in cls._TRAINING:
                setattr(model, name, value)
        return model
