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

from .data.npzio import atomic_savez
from .nn.model import NETWORKS, parameter_count
from .train import Trainer

FORMAT = "numpy_sae-model"
FORMAT_VERSION = 1


class ModelFileError(ValueError):
    """A model file that is missing, damaged, tampered with or from another version."""


def save_model_file(path, model, meta=None, trainer_state=None):
    """Write a network (and optionally the trainer's state, for resuming) to ``path``.

    Parameters
    ----------
    path : str or Path
    model : a network of :data:`numpy_sae.nn.model.NETWORKS`; its class is recorded
    meta : dict, JSON-able: genre names, preprocessing, input kind, run settings
    trainer_state : dict from ``Trainer.state_dict()`` or None
    """
    arrays = {"format": np.array(FORMAT), "format_version": np.array(FORMAT_VERSION),
              "input_mean": model.input_mean, "input_scale": model.input_scale}
    for k, v in model.parameters().items():
        arrays[f"param/{k}"] = v
    for k, v in model.buffers().items():
        arrays[f"buffer/{k}"] = v
    record = {"class": type(model).__name__, "model": model.config(), "meta": meta or {},
              "trainer": None}
    if trainer_state is not None:
        trainer = {k: trainer_state[k] for k in Trainer.VALUE_STATE}
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


MEMBER_PREFIXES = ("param/", "buffer/", "optim/", "best/")
MEMBERS = ("format", "format_version", "record", "input_mean", "input_scale")
MAX_UNPACKED_BYTES = 8 * 10 ** 9  # far above any network here (the study's: 2 MB)


def _known_member(name):
    return name in MEMBERS or name.startswith(MEMBER_PREFIXES)


def _check_declared_size(path, archive, name):
    """Refuse a member whose header declares more data than the member holds: numpy would
    allocate the declared array before finding the data missing."""
    info = archive.getinfo(f"{name}.npy")
    with archive.open(info) as member:
        try:
            version = np.lib.format.read_magic(member)
            read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                           else np.lib.format.read_array_header_2_0)
            shape, _, dtype = read_header(member)
        except (ValueError, TypeError, OverflowError) as exc:
            raise ModelFileError(f"{path}: member {name} has a damaged header ({exc})") from None
    declared = int(np.prod(shape, dtype=object)) * dtype.itemsize
    if declared > info.file_size:
        raise ModelFileError(f"{path}: member {name} declares {declared:,} bytes of data "
                             f"({shape}) but holds {info.file_size:,}")


def _read_arrays(path):
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"model file not found: {path}")
    with open(path, "rb") as fh:
        if fh.read(4) != b"PK\x03\x04":  # every .npz is a zip archive
            raise ModelFileError(f"{path}: not a numpy_sae model file (not an .npz archive)")
    try:
        with np.load(path, allow_pickle=False) as data:
            # Names and sizes come from the archive's directory, before anything is
            # decompressed: a tampered file with a huge or foreign member is refused whole.
            unknown = [k for k in data.files if not _known_member(k)]
            if unknown:
                raise ModelFileError(f"{path}: holds members a model file never has: "
                                     f"{', '.join(sorted(unknown)[:5])}")
            size = sum(info.file_size for info in data.zip.infolist())
            if size > MAX_UNPACKED_BYTES:
                raise ModelFileError(f"{path}: its arrays would unpack to {size / 1e9:.1f} GB; "
                                     f"a model file holds at most {MAX_UNPACKED_BYTES / 1e9:.0f} GB")
            for name in data.files:
                _check_declared_size(path, data.zip, name)
            return {k: data[k] for k in data.files}
    except ValueError as exc:
        if "allow_pickle" in str(exc):
            raise ModelFileError(f"{path}: contains pickled Python objects; refusing to load "
                                 "it (a model file holds only plain arrays)") from None
        raise ModelFileError(f"{path}: not a readable model file ({exc})") from None
    except (zipfile.BadZipFile, OSError, EOFError, KeyError, NotImplementedError) as exc:
        # NotImplementedError: zipfile's word for a member whose declared zip version
        # or compression method it does not know.
        raise ModelFileError(f"{path}: not a readable model file (damaged or truncated: "
                             f"{exc})") from None


class _Reader:
    """One model file's arrays, and checks that name the file in every complaint."""

    def __init__(self, path):
        self.path = path
        self.arrays = _read_arrays(path)

    def fail(self, problem):
        raise ModelFileError(f"{self.path}: {problem}")

    def checked(self, key, shape, dtype):
        """The array ``key`` after checking its shape, dtype and finiteness."""
        if key not in self.arrays:
            self.fail(f"{key} is missing")
        value = self.arrays[key]
        if value.shape != shape:
            self.fail(f"{key} has shape {value.shape}, expected {shape}")
        if value.dtype != dtype:
            self.fail(f"{key} has dtype {value.dtype}, expected {dtype}")
        if not np.isfinite(value).all():
            self.fail(f"{key} contains NaN or inf")
        return value

    def record(self):
        """The JSON record: {"class", "model", "meta", "trainer"}, after the format marker."""
        arrays = self.arrays
        if "format" not in arrays or str(arrays["format"]) != FORMAT:
            self.fail("not a numpy_sae model file (no format marker)")
        stored = arrays.get("format_version")
        version = (int(stored) if stored is not None and stored.shape == ()
                   and stored.dtype.kind in "iu" else None)
        if version != FORMAT_VERSION:
            self.fail(f"format version {version}, this numpy_sae reads version {FORMAT_VERSION}")
        try:
            record = json.loads(str(arrays["record"]))
            if not isinstance(record, dict) or not isinstance(record["model"], dict):
                raise TypeError("the architecture is not a mapping")
        except (KeyError, ValueError, TypeError) as exc:
            self.fail(f"settings record is missing or damaged ({exc})")
        if not isinstance(record.get("meta", {}), dict):
            self.fail("settings record is damaged (meta is not a mapping)")
        return record

    def network(self, record, cls=None):
        """The network the record describes, with the stored weights and input scaling."""
        name = record.get("class", "SoftmaxAutoencoderNetwork")  # files before classes were named
        if not isinstance(name, str) or name not in NETWORKS:
            self.fail(f"unknown network class {name!r} (known: {', '.join(NETWORKS)})")
        if cls is not None and cls is not NETWORKS[name]:
            self.fail(f"holds a {name}, not a {cls.__name__}")
        cls = cls or NETWORKS[name]
        self._check_size(cls, record["model"])
        try:
            model = cls(**record["model"], seed=0)
        except (TypeError, ValueError) as exc:
            self.fail(f"stored architecture is invalid ({exc})")
        params = model.parameters()
        stored = {k[len("param/"):] for k in self.arrays if k.startswith("param/")}
        missing, unexpected = sorted(set(params) - stored), sorted(stored - set(params))
        if missing or unexpected:
            self.fail(f"parameters do not match the architecture (missing: {missing or 'none'}, "
                      f"unexpected: {unexpected or 'none'})")
        for k, p in params.items():
            p[...] = self.checked(f"param/{k}", p.shape, model.dtype)
        buffers = model.buffers()
        stored = {k[len("buffer/"):] for k in self.arrays if k.startswith("buffer/")}
        if stored != set(buffers):
            self.fail(f"stored state does not match the architecture (missing: "
                      f"{sorted(set(buffers) - stored) or 'none'}, unexpected: "
                      f"{sorted(stored - set(buffers)) or 'none'})")
        for k, b in buffers.items():
            b[...] = self.checked(f"buffer/{k}", b.shape, model.dtype)
        if "band_scale" in buffers and not (buffers["band_scale"] > 0).all():
            self.fail("band_scale must be positive")
        for name in ("input_mean", "input_scale"):
            getattr(model, name)[...] = self.checked(name, (model.input_dim,), model.dtype)
        if not (model.input_scale > 0).all():
            self.fail("input_scale must be positive")
        return model

    def _check_size(self, cls, config):
        # Checked before anything is allocated: a tampered record asking for huge layers
        # must be a clear error, not a MemoryError. Smaller mismatches are named in detail
        # once the network is built.
        stored = sum(v.size for k, v in self.arrays.items() if k.startswith("param/"))
        try:
            wanted = parameter_count(cls, config)
        except (KeyError, TypeError, ValueError, OverflowError) as exc:
            self.fail(f"stored architecture is invalid ({exc})")
        if wanted > max(4 * stored, 1_000_000):
            self.fail(f"stored architecture asks for {wanted:,} weights; the file holds "
                      f"{stored:,}")

    def trainer_state(self, record, model):
        """The state for ``Trainer.load_state_dict``, or None when the file holds none."""
        trainer = record.get("trainer")
        if trainer is None:
            return None
        if not isinstance(trainer, dict):
            self.fail("training state is damaged (not a mapping)")
        params = model.parameters()
        try:
            absent = [k for k in (*Trainer.VALUE_STATE, "optimizer_t", "has_best")
                      if k not in trainer]
            if absent:
                self.fail(f"training state is incomplete (missing {', '.join(absent)})")
            optimizer = {"t": trainer["optimizer_t"]}
            for key in self.arrays:
                if key.startswith("optim/"):
                    slot, name = key[len("optim/"):].split("/", 1)
                    if name not in params:
                        self.fail(f"{key} belongs to no parameter")
                    optimizer[f"{slot}/{name}"] = self.checked(key, params[name].shape,
                                                               model.dtype)
            best = None
            if trainer["has_best"]:
                best = {k: self.checked(f"best/{k}", p.shape, model.dtype)
                        for k, p in params.items()}
        except (TypeError, ValueError) as exc:
            self.fail(f"training state is damaged ({exc})")
        problem = _check_values_of(trainer)
        if problem:
            self.fail(f"training state is damaged ({problem})")
        state = {k: trainer[k] for k in Trainer.VALUE_STATE}
        state.update(optimizer=optimizer, params={k: v.copy() for k, v in params.items()},
                     best_params=best)
        return state


def _is_int(value, low=0):
    return isinstance(value, int) and not isinstance(value, bool) and value >= low


def _check_values_of(trainer):
    """The problem with the plain values of a training state, or None."""
    epoch = trainer["epoch"]
    if not _is_int(epoch):
        return f"epoch is {epoch!r}"
    history = trainer["history"]
    if not isinstance(history, dict) or not all(
            isinstance(v, list) and len(v) == epoch and all(
                isinstance(x, (int, float)) and not isinstance(x, bool) for x in v)
            for v in history.values()):
        return "history is not one list of numbers per column, one per epoch"
    for key in ("best_epoch", "bad_epochs", "optimizer_t"):
        if not _is_int(trainer[key]):
            return f"{key} is {trainer[key]!r}"
    if not isinstance(trainer["best_val_loss"], (int, float)) or \
            isinstance(trainer["best_val_loss"], bool):
        return f"best_val_loss is {trainer['best_val_loss']!r}"
    if not isinstance(trainer["stopped_early"], bool):
        return f"stopped_early is {trainer['stopped_early']!r}"
    try:
        np.random.default_rng().bit_generator.state = trainer["rng"]
    except (TypeError, ValueError, KeyError, AttributeError, OverflowError) as exc:
        return f"the random generator's state is unusable ({exc!r})"
    return None


def load_model_file(path, cls=None):
    """Read and validate a model file.

    Parameters
    ----------
    path : str or Path
    cls : network class expected (or a subclass of the recorded one); None builds
        whatever class the file records

    Returns
    -------
    model : the network with the stored weights and input scaling
    meta : dict
    trainer_state : dict for ``Trainer.load_state_dict`` or None

    Raises
    ------
    ModelFileError
    """
    reader = _Reader(path)
    record = reader.record()
    model = reader.network(record, cls)
    return model, record.get("meta", {}), reader.trainer_state(record, model)
