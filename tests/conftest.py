import importlib.util
from pathlib import Path

import numpy as np
import pytest

from numpy_sae.nn.model import SoftmaxAutoencoderNetwork

ROOT = Path(__file__).resolve().parent.parent
SCRIPT_FOLDERS = (ROOT / "examples", ROOT / "benchmarks")


class DtypeSpy(np.ndarray):
    """An ndarray that records (ufunc name, dtype) for every array operand of every ufunc
    it takes part in, and passes the spy on to results, so whole computations are seen."""

    seen = []

    def __array_ufunc__(self, ufunc, method, *inputs, out=None, **kwargs):
        for a in inputs + (out or ()):
            if isinstance(a, (np.ndarray, np.generic)):
                DtypeSpy.seen.append((ufunc.__name__, np.dtype(a.dtype)))
        plain = [a.view(np.ndarray) if isinstance(a, DtypeSpy) else a for a in inputs]
        if out is None:
            result = getattr(ufunc, method)(*plain, **kwargs)
            return result.view(DtypeSpy) if isinstance(result, np.ndarray) else result
        kwargs["out"] = tuple(o.view(np.ndarray) if isinstance(o, DtypeSpy) else o for o in out)
        getattr(ufunc, method)(*plain, **kwargs)
        return out[0] if len(out) == 1 else out  # `a += b` rebinds a to this: keep the spy


@pytest.fixture
def dtype_spy():
    """The DtypeSpy class with an empty record."""
    DtypeSpy.seen = []
    return DtypeSpy


@pytest.fixture
def isolated_command(tmp_path, monkeypatch):
    """A command run that touches nothing outside tmp_path: its own cache and working
    folder, and no $GTZAN_DIR from the environment."""
    monkeypatch.setenv("NUMPY_SAE_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("GTZAN_DIR", raising=False)
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def rng():
    """A fresh, seeded generator per test: tests never share random state."""
    return np.random.default_rng(1234)


@pytest.fixture
def load_example():
    """Import a script from examples/ or benchmarks/ as a module, so tests call its functions."""
    def load(name):
        path = next(folder / f"{name}.py" for folder in SCRIPT_FOLDERS
                    if (folder / f"{name}.py").exists())
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    return load


def small_network(**overrides):
    """The tests' small joint network: 10 inputs, an 8-unit hidden layer, a 4-dim code,
    3 classes; any constructor argument can be overridden."""
    settings = dict(input_dim=10, n_classes=3, code_dim=4, encoder_hidden=(8,),
                    classifier_hidden=6, seed=0)
    return SoftmaxAutoencoderNetwork(**{**settings, **overrides})
