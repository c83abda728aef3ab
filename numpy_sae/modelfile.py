"""Model files: weights, input scaling, training state and settings in one ``.npz``.

Files are written atomically (a temp file, fsync, then ``os.replace``), so a
crash mid-save never leaves a half-written model, and read with
``allow_pickle=False`` so a file cannot run code. Every key, shape and value
is checked on load; a bad file raises :class:`ModelFileError` naming the
file and what is wrong with it.
"""

import json
import zipfile
from pathlib import Path

import numpy as np

from .nn.model import SoftmaxAutoencoderNetwork
from .data.npzio import atomic_savez

FORMAT = "numpy_sae-model"
FORMAT_VERSION = 1


class ModelFileError(ValueError):
    """A model file that is missing, damaged, tampered with or from another version."""


def save_model_file(path, model, meta=None, trainer_state=None):
    """Write a model (and optionally the trainer's state, for resuming) to ``path``.

    Parameters
    ----------
    path : str or Path
    model : SoftmaxAutoencoderNetwork
    meta : dict, JSON-able: genre names, preprocessing, input kind, run settings
    trainer_state : dict from ``Trainer.state_dict()`` or None
    """
    arrays = {"format": np.array(FORMAT), "format_version": np.array(FORMAT_VERSION),
              "input_mean": model.input_mean, "input_scale": model.input_scale}
    for k, v in model.parameters().items():
        arrays[f"param/{k}"] = v
    record = {"model": model.config(), "meta": meta or {}, "trainer": None}
    if trainer_state is not None:
        trainer = {k: v for k, v in trainer_state.items()
                   if k not in ("optimizer", "params", "best_params")}
        trainer["optimizer_t"] = int(trainer_state["optimizer"]["t"])
        trainer["has_best"] = trainer_state["best_params"] is not None
        record["trainer"] = trainer
        for k, v in trainer_state["optimizer"].items():
            if k != "t":
                arrays[f"optim/{k}"] = v
        for k, v in (trainer_state["best_params"] or {}).items():
            arrays[f"best/{k}"] = v
    arrays["record"] = np.array(json.dumps(record))
    atomic_savez(path, arrays)


def _read_arrays(path):
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"model file not found: {path}")
    try:
        with np.load(path, allow_pickle=False) as data:
            return {k: data[k] for k in data.files}
    except ValueError as exc:
        if "allow_pickle" in str(exc):
            raise ModelFileError(f"{path}: contains pickled Python objects; refusing to load "
                                 "it (a model file holds only plain arrays)") from None
        raise ModelFileError(f"{path}: not a readable model file ({exc})") from None
    except (zipfile.BadZipFile, OSError, EOFError, KeyError) as exc:
        raise ModelFileError(f"{path}: not a readable model file (damaged or truncated: "
                             f"{exc})") from None


def load_model_file(path, cls=SoftmaxAutoencoderNetwork):
    """Read and validate a model file.

    Parameters
    ----------
    path : str or Path
    cls : the model class to build (its constructor takes ``config()``'s keys)

    Returns
    -------
    model : cls instance with the stored weights and input scaling
    meta : dict
    trainer_state : dict for ``Trainer.load_state_dict`` or None

    Raises
    ------
    ModelFileError
    """
    arrays = _read_arrays(path)

    def fail(problem):
        raise ModelFileError(f"{path}: {problem}")

    if "format" not in arrays or str(arrays["format"]) != FORMAT:
        fail("not a numpy_sae model file (no format marker)")
    version = int(arrays["format_version"]) if "format_version" in arrays else None
    if version != FORMAT_VERSION:
        fail(f"format version {version}, this numpy_sae reads version {FORMAT_VERSION}")
    try:
        record = json.loads(str(arrays["record"]))
        config = record["model"]
        if not isinstance(config, dict):
            raise TypeError("the architecture is not a mapping")
    except (KeyError, ValueError, TypeError) as exc:
        fail(f"settings record is missing or damaged ({exc})")
    try:
        model = cls(**config, seed=0)
    except (TypeError, ValueError) as exc:
        fail(f"stored architecture is invalid ({exc})")

    params = model.parameters()
    stored = {k[len("param/"):] for k in arrays if k.startswith("param/")}
    missing, unexpected = sorted(set(params) - stored), sorted(stored - set(params))
    if missing or unexpected:
        fail(f"parameters do not match the architecture (missing: {missing or 'none'}, "
             f"unexpected: {unexpected or 'none'})")

    def checked(key, shape, dtype=model.dtype):
        value = arrays[key]
        if value.shape != shape:
            fail(f"{key} has shape {value.shape}, expected {shape}")
        if value.dtype != dtype:
            fail(f"{key} has dtype {value.dtype}, expected {dtype}")
        if not np.isfinite(value).all():
            fail(f"{key} contains NaN or inf")
        return value

    for k, p in params.items():
        p[...] = checked(f"param/{k}", p.shape)
    for name in ("input_mean", "input_scale"):
        if name not in arrays:
            fail(f"{name} is missing")
        getattr(model, name)[...] = checked(name, (model.input_dim,))
    if not (model.input_scale > 0).all():
        fail("input_scale must be positive")

    trainer_state = None
    trainer = record.get("trainer")
    if trainer is not None:
        try:
            optimizer = {"t": int(trainer["optimizer_t"])}
            for key in arrays:
                if key.startswith("optim/"):
                    slot, name = key[len("optim/"):].split("/", 1)
                    if name not in params:
                        fail(f"{key} belongs to no parameter")
                    optimizer[f"{slot}/{name}"] = checked(key, params[name].shape)
            best = None
            if trainer["has_best"]:
                best = {k: checked(f"best/{k}", p.shape) for k, p in params.items()}
            trainer_state = {k: v for k, v in trainer.items() if k not in ("optimizer_t", "has_best")}
            trainer_state.update(optimizer=optimizer, params={k: v.copy() for k, v in params.items()},
                                 best_params=best)
            absent = [key for key in ("epoch", "history", "rng", "best_val_loss", "best_epoch",
                                      "bad_epochs", "stopped_early") if key not in trainer_state]
            if absent:
                fail(f"training state is incomplete (missing {', '.join(absent)})")
        except KeyError as exc:
            fail(f"training state is incomplete (missing {exc})")
        except (TypeError, ValueError, AttributeError) as exc:
            fail(f"training state is damaged ({exc})")
    meta = record.get("meta", {})
    if not isinstance(meta, dict):
        fail("settings record is damaged (meta is not a mapping)")
    return model, meta, trainer_state
