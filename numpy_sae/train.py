"""The training loop: minibatches, history, early stopping, and exact resumption.

A :class:`Trainer` owns everything that changes while a model trains (the
optimizer state, the random generator, the epoch count, the history, the best
weights so far) and can hand it all out as a state dict and take it back, so a
run interrupted at epoch k and resumed ends bit for bit where an uninterrupted
run would. Where the training windows come from is a *source* object:
:class:`WindowSource` serves a fixed set, :class:`RandomCropSource` cuts fresh
windows from the training clips every epoch.
"""

import time
from typing import Protocol

import numpy as np

from .data.parallel import format_seconds
from .data.segments import Segments
from .encodings import MAX_ROWS, evenly_spaced
from .metrics import accuracy

HISTORY_COLUMNS = ("epoch", "reconstruction", "cross_entropy", "loss", "train_accuracy",
                   "val_reconstruction", "val_cross_entropy", "val_loss", "val_accuracy",
                   "val_r2", "seconds")


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite; the weights are those of the last finished epoch."""


class TrainingInterrupted(RuntimeError):
    """Ctrl-C during training; the trainer was rolled back to the last finished epoch."""


class WindowSource:
    """A fixed training set served every epoch (the study's protocol).

    x : float32 (N, D), y : int (N,)
    """

    def __init__(self, x, y):
        self.x, self.y = x, y

    def __len__(self):
        return len(self.y)

    def epoch(self, rng):
        return self.x, self.y


class RandomCropSource:
    """Fresh windows (or segments) at random offsets of the training clips, every epoch.

    Parameters
    ----------
    clipset : gtzan.ClipSet (downsampled signals; only they are kept in memory)
    clips : int array of training clip indices
    per_clip : crops drawn per clip per epoch
    transform : callable (..., window) -> (..., input_dim), the model's input features
    gain_db : segments only: each gets a random gain in +-gain_db dB (0: none)
    table : data.segments.FrameTable of ``clipset`` or None; segments then start on its
        hop grid (a multiple of the hop into their clip) and read its stored features

    Notes
    -----
    A crop never crosses from one clip into the next: each start is drawn in
    [0, len(clip) - length] of its own clip. When the clip set's preprocessing has
    ``segment_frames``, a crop is a segment of that many frames, served lazily
    (:class:`data.segments.Segments`), so an epoch's frames are cut batch by batch.
    """

    def __init__(self, clipset, clips, per_clip, transform=None, gain_db=0.0, table=None):
        self.gain_db = float(gain_db)  # segments: random gain in +-gain_db dB (augmentation)
        # A FrameTable of the clip set: segments then start on its hop grid and read its
        # stored features (a gain changes the spectrum's floor, so gains read the frames).
        self.table = table if not self.gain_db else None
        self.clipset = clipset
        self.clips = np.asarray(clips, dtype=np.int64)
        self.per_clip = int(per_clip)
        if self.per_clip < 1:
            raise ValueError(f"per_clip must be >= 1, got {per_clip}")
        pre = clipset.preprocessing
        self.window = pre.window
        self.transform = transform
        lengths = clipset.offsets[self.clips + 1] - clipset.offsets[self.clips]
        self._starts = clipset.offsets[self.clips]
        self._room = lengths - pre.min_samples + 1  # number of valid start positions per clip
        if self.table is not None:  # valid starts on the hop grid, as multiples of hop
            self._room = (lengths - pre.min_samples) // pre.step + 1
        self.y = np.repeat(clipset.labels[self.clips], self.per_clip)
        # Every window of the concatenated signals as a read-only strided view (no
        # copy): a crop is then one row index, and gathering rows copies 500 contiguous
        # samples each instead of building an (n, window) array of sample indices
        # (3x slower, and 112 MB of indices for 28,000 crops).
        self._all_windows = np.lib.stride_tricks.sliding_window_view(clipset.signals, self.window)

    def __len__(self):
        return len(self.y)

    def epoch(self, rng):
        """Return (x, y): x float32 (n_clips * per_clip, D), crops in clip order (for
        segments, a lazy (n_clips * per_clip, T, D) set of them)."""
        offsets = (rng.random((len(self.clips), self.per_clip)) * self._room[:, None]).astype(np.int64)
        pre = self.clipset.preprocessing
        if self.table is not None:
            offsets *= pre.step
        starts = (self._starts[:, None] + offsets).ravel()
        if pre.segment_frames is not None:
            transform = self.transform or (lambda frames: frames)
            # Drawn only when asked, so runs without augmentation keep their random stream.
            gains = (10.0 ** (rng.uniform(-self.gain_db, self.gain_db, len(starts)) / 20.0)
                     if self.gain_db else None)
            return Segments(self.clipset.signals, starts, pre.window, pre.step,
                            pre.segment_frames, transform, gains=gains,
                            table=self.table), self.y
        x = self._all_windows[starts]
        return (x if self.transform is None else self.transform(x)), self.y


class TrainableModel(Protocol):
    """What a :class:`Trainer` needs of a model (both networks in ``nn.model`` have it).

    ``parameters()`` gives name -> live array; ``loss_and_gradients(x, y)`` runs
    forward and backward on a minibatch x (n, D), y (n,) and returns
    ``(terms, grads, logits)``: a ``LossTerms`` of batch means, name -> gradient
    with the keys of ``parameters()``, and the logits (n, C) for the training
    accuracy; ``loss_and_logits(x, y)`` does the forward pass alone, for validation.
    """

    def parameters(self) -> dict: ...

    def loss_and_gradients(self, x, y) -> tuple: ...

    def loss_and_logits(self, x, y) -> tuple: ...


class Trainer:
    """Minibatch training of a model with an optimizer.

    Parameters
    ----------
    model : TrainableModel
    optimizer : optim.Optimizer
    source : WindowSource or RandomCropSource
    validation : (x_val (M, D), y_val (M,)) or None
    batch_size : int
    rng : numpy.random.Generator; drives shuffling (and crops)
    patience : int or None
        Early stopping: stop after this many epochs without a lower validation
        loss, then restore the best weights. None trains every epoch.
    log : callable taking one line, or None for silence
    schedule : callable(epoch, optimizer) or None, called before each epoch (0-based) to
        set what changes with the epoch, e.g. ``optimizer.lr_scales``
    """

    # What state_dict() holds: plain values (JSON in a model file), then the array dicts.
    VALUE_STATE = ("epoch", "history", "rng", "best_val_loss", "best_epoch", "bad_epochs",
                   "stopped_early")
    ARRAY_STATE = ("optimizer", "params", "best_params")

    def __init__(self, model, optimizer, source, validation=None, batch_size=512, rng=None,
                 patience=None, log=print, schedule=None):
        if int(batch_size) != batch_size or batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
        if patience is not None and (int(patience) != patience or patience < 1):
            raise ValueError(f"patience must be a positive integer, got {patience!r}")
        if patience is not None and validation is None:
            raise ValueError("early stopping needs validation data")
        self.model = model
        self.optimizer = optimizer
        self.schedule = schedule
        self.source = source
        self.validation = validation
        # R^2 of the validation reconstructions = 1 - reconstruction / this variance
        # (both per window, summed over features), so it costs nothing per epoch.
        self._val_variance = None
        if validation is not None and getattr(model, "reconstructs", False):
            # A large validation set's variance comes from an evenly spaced sample of it.
            z = model.standardized(evenly_spaced(validation[0], MAX_ROWS))
            self._val_variance = float(np.mean(np.sum((z - z.mean(axis=0)) ** 2, axis=1)))
        self.batch_size = int(batch_size)
        self.rng = rng if rng is not None else np.random.default_rng(0)
        self.patience = patience
        self.log = log or (lambda line: None)
        self.epoch = 0
        self.history = {name: [] for name in HISTORY_COLUMNS}
        self.best_val_loss = np.inf
        self.best_epoch = 0
        self.bad_epochs = 0
        self.best_params = None
        self.stopped_early = False

    # ----- state for checkpoints and exact resumption --------------------------------
    def state_dict(self):
        """Copies of everything that changes during training (arrays and JSON-able values)."""
        return {
            "epoch": self.epoch,
            "history": {k: list(v) for k, v in self.history.items()},
            "rng": self.rng.bit_generator.state,
            "optimizer": {k: (v.copy() if isinstance(v, np.ndarray) else v)
                          for k, v in self.optimizer.state_dict().items()},
            "params": {k: v.copy() for k, v in self.model.parameters().items()},
            "best_params": (None if self.best_params is None
                            else {k: v.copy() for k, v in self.best_params.items()}),
            "best_val_loss": float(self.best_val_loss), "best_epoch": self.best_epoch,
            "bad_epochs": self.bad_epochs, "stopped_early": self.stopped_early,
        }

    def load_state_dict(self, state):
        """Restore what :meth:`state_dict` returned; parameters are copied into the live arrays."""
        self.epoch = int(state["epoch"])
        # A column an older file lacks is NaN for its epochs, so every column stays as long.
        self.history = {k: list(state["history"].get(k, [np.nan] * self.epoch))
                        for k in HISTORY_COLUMNS}
        self.rng.bit_generator.state = state["rng"]
        self.optimizer.load_state_dict(state["optimizer"])
        params = self.model.parameters()
        for k, v in state["params"].items():
            params[k][...] = v
        self.best_params = (None if state["best_params"] is None
                            else {k: np.array(v) for k, v in state["best_params"].items()})
        self.best_val_loss = float(state["best_val_loss"])
        self.best_epoch = int(state["best_epoch"])
        self.bad_epochs = int(state["bad_epochs"])
        self.stopped_early = bool(state["stopped_early"])

    # ----- training ------------------------------------------------------------------
    def _train_one_epoch(self):
        """One pass over the source in shuffled minibatches; returns summed loss terms."""
        x, y = self.source.epoch(self.rng)
        order = self.rng.permutation(len(y))
        params = self.model.parameters()
        sums = np.zeros(3)
        correct = 0
        labeled = int(np.count_nonzero(y >= 0))
        for start in range(0, len(order), self.batch_size):
            idx = order[start:start + self.batch_size]
            # Plain fancy indexing: np.take(..., out=buffer) looks cheaper but buffers
            # internally (mode="raise") and gathered 3x slower here.
            xb, yb = x[idx], y[idx]
            terms, grads, logits = self.model.loss_and_gradients(xb, yb)
            if not np.isfinite(terms.total):
                # Checked before the step, so the weights are never overwritten by NaNs.
                raise TrainingDiverged(f"loss became {terms.total} at epoch {self.epoch + 1}, "
                                       f"batch {start // self.batch_size + 1}")
            self.optimizer.step(params, grads)
            # The cross-entropy is a mean over the batch's labeled windows: weight it by them.
            sums += np.array(terms) * (len(idx), np.count_nonzero(yb >= 0), len(idx))
            # Unlabeled windows (y = -1) never match a prediction and are not counted.
            correct += int(np.count_nonzero(logits.argmax(axis=1) == yb))
        means = sums / (len(y), max(labeled, 1), len(y))
        return means, (correct / labeled if labeled else np.nan)

    def fit(self, epochs, on_epoch_end=None):
        """Train until ``epochs`` epochs are done in total (a resumed trainer continues).

        Parameters
        ----------
        epochs : int, total number of epochs
        on_epoch_end : callable(trainer) or None, e.g. to write a checkpoint

        Raises
        ------
        TrainingDiverged, TrainingInterrupted
            Both leave the trainer at the state of the last finished epoch.
        """
        # A copy of the state after every finished epoch (a few MB, about 1% of an epoch's
        # time): Ctrl-C or a NaN in mid-epoch rolls back to it, so whatever is saved then
        # sits on an epoch boundary and resumes exactly.
        snapshot = self.state_dict()
        fit_began, first_epoch = time.perf_counter(), self.epoch
        try:
            while self.epoch < epochs and not self.stopped_early:
                began = time.perf_counter()
                if self.schedule is not None:  # from the epoch number alone: resumes exactly
                    self.schedule(self.epoch, self.optimizer)
                (rec, ce, total), train_acc = self._train_one_epoch()
                row = {"epoch": self.epoch + 1, "reconstruction": rec, "cross_entropy": ce,
                       "loss": total, "train_accuracy": train_acc}
                row.update(self._validate())
                self.epoch += 1
                row["seconds"] = time.perf_counter() - began
                for k in HISTORY_COLUMNS:
                    self.history[k].append(row[k])
                self._early_stopping(row["val_loss"])
                per_epoch = (time.perf_counter() - fit_began) / (self.epoch - first_epoch)
                self.log(format_epoch(row, epochs, left=per_epoch * (epochs - self.epoch)))
                snapshot = self.state_dict()
                if on_epoch_end is not None:
                    on_epoch_end(self)
        except KeyboardInterrupt:
            self.load_state_dict(snapshot)
            raise TrainingInterrupted(f"interrupted during epoch {self.epoch + 1}") from None
        except TrainingDiverged:
            self.load_state_dict(snapshot)
            raise
        if self.patience is not None and self.best_params is not None:
            self.restore_best()
        return self.history

    def _validate(self):
        if self.validation is None:
            return {"val_reconstruction": np.nan, "val_cross_entropy": np.nan,
                    "val_loss": np.nan, "val_accuracy": np.nan, "val_r2": np.nan}
        x_val, y_val = self.validation
        terms, logits = self.model.loss_and_logits(x_val, y_val)
        r2 = (np.nan if not self._val_variance
              else 1.0 - terms.reconstruction / self._val_variance)
        return {"val_reconstruction": terms.reconstruction, "val_cross_entropy": terms.cross_entropy,
                "val_loss": terms.total, "val_accuracy": accuracy(y_val, logits.argmax(axis=1)),
                "val_r2": r2}

    def _early_stopping(self, val_loss):
        if self.patience is None:
            return
        if val_loss < self.best_val_loss:
            self.best_val_loss, self.best_epoch, self.bad_epochs = val_loss, self.epoch, 0
            self.best_params = {k: v.copy() for k, v in self.model.parameters().items()}
        else:
            self.bad_epochs += 1
            if self.bad_epochs >= self.patience:
                self.stopped_early = True
                self.log(f"early stopping: no lower validation loss for {self.patience} epochs; "
                         f"restoring the weights of epoch {self.best_epoch}")

    def restore_best(self):
        """Copy the best weights (lowest validation loss) into the model."""
        params = self.model.parameters()
        for k, v in self.best_params.items():
            params[k][...] = v


def format_epoch(row, epochs, left=None):
    """One printed line per epoch; ``left``: the estimated seconds still to train."""
    width = len(str(epochs))
    line = (f"epoch {row['epoch']:>{width}}/{epochs}  rec {row['reconstruction']:.4f}  "
            f"ce {row['cross_entropy']:.4f}  loss {row['loss']:.4f}  "
            f"train_acc {row['train_accuracy']:.3f}")
    if np.isfinite(row["val_loss"]):
        line += f"  val_loss {row['val_loss']:.4f}  val_acc {row['val_accuracy']:.3f}"
    if np.isfinite(row["val_r2"]):
        line += f"  val_r2 {row['val_r2']:.3f}"
    line += f"  {row['seconds']:.2f}s"
    if left is not None and row["epoch"] < epochs:
        line += f"  (about {format_seconds(left)} left)"
    return line
