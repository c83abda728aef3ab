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


# Notebooks run in a real Jupyter kernel, started when the session begins so that they run
# on one core while the rest of the suite runs on the other; test_teaching waits for them.
NOTEBOOKS = {}


def pytest_sessionstart(session):
    import os
    import subprocess
    import sys
    import tempfile
    if importlib.util.find_spec("nbclient") is None:
        return
    from numpy_sae.teaching.assignment import assignment_notebook
    work = Path(tempfile.mkdtemp(prefix="numpy_sae_notebooks."))
    (work / "key.ipynb").write_text(assignment_notebook(solutions=True))
    (work / "student.ipynb").write_text(assignment_notebook(solutions=False, level="derive"))
    notebooks = [ROOT / "examples" / "notebooks" / "backprop_walkthrough.ipynb",
                 ROOT / "examples" / "notebooks" / "lecture_training_dynamics.ipynb",
                 work / "key.ipynb", work / "student.ipynb"]
    summary = work / "summary.json"
    # The kernel asks for four BLAS threads: the lecture must pin one itself.
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "tests" / "notebook_runner.py"), str(summary), str(work),
         *map(str, notebooks)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        env={**os.environ, "OPENBLAS_NUM_THREADS": "4"})
    NOTEBOOKS.update(process=process, summary=summary, work=work)


def pytest_sessionfinish(session):
    import shutil
    process = NOTEBOOKS.get("process")
    if process is not None:
        if process.poll() is None:
            process.kill()
        process.wait()
        shutil.rmtree(NOTEBOOKS["work"], ignore_errors=True)


@pytest.fixture(scope="session")
def executed_notebooks():
    """{notebook name: summary} of the notebooks executed in a real kernel."""
    import json
    if "process" not in NOTEBOOKS:
        pytest.fail("nbclient is not installed: pip install -e \".[test]\"")
    NOTEBOOKS["process"].wait(timeout=600)
    return json.loads(NOTEBOOKS["summary"].read_text())
