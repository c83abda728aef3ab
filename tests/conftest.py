import importlib.util
import os
import sys
from pathlib import Path

# One BLAS thread per process, set before NumPy loads: the suite's matrices are small, and
# two long runs go on beside it (see pytest_collection_finish), so more threads would only
# oversubscribe the two cores. Correctness never depends on it; the lecture test asks its
# kernel for four threads on purpose.
for _variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")
# The suite starts a hundred Python processes (grading children, spawned workers, the
# commands run as a user would): with bytecode caching off (PYTHONDONTWRITEBYTECODE, set
# in some images) each would compile numpy_sae again, about 0.1 s apiece.
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
sys.dont_write_bytecode = False

from hypothesis import settings as hypothesis_settings  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from numpy_sae.nn.model import SoftmaxAutoencoderNetwork  # noqa: E402

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
        # As when it runs as a script: its own folder is on the path (script_support).
        sys.path.insert(0, str(path.parent))
        try:
            spec.loader.exec_module(module)
        finally:
            sys.path.remove(str(path.parent))
        return module
    return load


def small_network(**overrides):
    """The tests' small joint network: 10 inputs, an 8-unit hidden layer, a 4-dim code,
    3 classes; any constructor argument can be overridden."""
    settings = dict(input_dim=10, n_classes=3, code_dim=4, encoder_hidden=(8,),
                    classifier_hidden=6, seed=0)
    return SoftmaxAutoencoderNetwork(**{**settings, **overrides})


# Two long end-to-end runs start when the session begins, as subprocesses, so that they run
# on the second core while the rest of the suite runs on the first: the notebooks in a real
# Jupyter kernel, and `numpy-sae train --model segment` on the default synthetic data.
# Their tests (test_teaching, test_cli) wait for them and check what they left.
BACKGROUND = {}


def _start(name, command, work, **options):
    import subprocess
    log = open(work / f"{name}.log", "w")
    BACKGROUND[name] = {"process": subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT,
                                                    **options), "log": log, "work": work}


WAITS_FOR_BACKGROUND = ("test_segment_model_on_the_default_synthetic_data",
                        "test_notebooks_run_in_a_real_kernel_and_show_their_figures")


def pytest_collection_modifyitems(session, config, items):
    """The tests that wait for a background run go last: the run has the whole suite's
    time to finish beside it."""
    items.sort(key=lambda item: item.originalname in WAITS_FOR_BACKGROUND)


def pytest_collection_finish(session):
    """Start the background runs the selected tests need (none for ``-k other``)."""
    import sys
    import tempfile
    selected = {item.originalname for item in session.items}
    wanted = {"segment": WAITS_FOR_BACKGROUND[0] in selected,
              "notebooks": WAITS_FOR_BACKGROUND[1] in selected
                           and importlib.util.find_spec("nbclient") is not None}
    if not any(wanted.values()):
        return
    work = Path(tempfile.mkdtemp(prefix="numpy_sae_background."))
    # What a user types first, in a folder of its own: no data there, no cache to reuse.
    segment = work / "segment"
    segment.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "GTZAN_DIR"}
    if wanted["segment"]:
        _start("segment", [sys.executable, "-c", "import sys; from numpy_sae.commands.cli "
                           "import main; sys.exit(main(sys.argv[1:]))", "train",
                           "--epochs", "2", "--crops", "1", "--patience", "1",
                           "--name", "first", "--no-cache",
                           # One reading process: the suite's own process keeps the other core.
                           "--jobs", "1"], work, cwd=segment,
               env={**env, "NUMPY_SAE_CACHE": str(work / "cache"),
                    "OPENBLAS_NUM_THREADS": "1"})
    if wanted["notebooks"]:
        from numpy_sae.teaching.assignment import assignment_notebook
        (work / "key.ipynb").write_text(assignment_notebook(solutions=True))
        (work / "student.ipynb").write_text(assignment_notebook(solutions=False,
                                                                level="derive"))
        notebooks = [ROOT / "examples" / "notebooks" / "backprop_walkthrough.ipynb",
                     ROOT / "examples" / "notebooks" / "lecture_training_dynamics.ipynb",
                     work / "key.ipynb", work / "student.ipynb"]
        # The kernel asks for four BLAS threads: the lecture must pin one itself.
        _start("notebooks", [sys.executable, str(ROOT / "tests" / "notebook_runner.py"),
                             str(work / "summary.json"), str(work), *map(str, notebooks)],
               work, env={**os.environ, "OPENBLAS_NUM_THREADS": "4"})


def pytest_sessionfinish(session):
    import shutil
    for job in BACKGROUND.values():
        if job["process"].poll() is None:
            job["process"].kill()
        job["process"].wait()
        job["log"].close()
    if BACKGROUND:
        shutil.rmtree(next(iter(BACKGROUND.values()))["work"], ignore_errors=True)


def finished(name, timeout=900):
    """Wait for a background run: (exit status, its output, its folder)."""
    if name not in BACKGROUND:
        pytest.fail(f"the background run {name!r} did not start (nbclient not installed? "
                    "pip install -e \".[test]\")")
    job = BACKGROUND[name]
    status = job["process"].wait(timeout=timeout)
    job["log"].flush()
    return status, (job["work"] / f"{name}.log").read_text(), job["work"]


@pytest.fixture(scope="session")
def executed_notebooks():
    """{notebook name: summary} of the notebooks executed in a real kernel."""
    import json
    status, output, work = finished("notebooks")
    assert status == 0, output
    return json.loads((work / "summary.json").read_text())


# Property-based tests: a few dozen examples per property in the suite ("ci"), a thousand
# in a nightly-style run (pytest --hypothesis-profile nightly, or NUMPY_SAE_HYPOTHESIS).
hypothesis_settings.register_profile("ci", max_examples=30, deadline=None)
hypothesis_settings.register_profile("nightly", max_examples=1000, deadline=None)
hypothesis_settings.load_profile(os.environ.get("NUMPY_SAE_HYPOTHESIS", "ci"))


def other_songs(folder, names, genre="jazz", duration=2.0):
    """Synthetic songs no labeled tree of the tests holds (their own seed), written under
    ``folder`` with the given file names: unlabeled audio that is not a copy of a
    labeled song, which --unlabeled would rightly leave out."""
    import shutil

    from numpy_sae.data.synth import generate_dataset
    made = generate_dataset(Path(folder) / ".made", genres=(genre,), clips_per_genre=len(names),
                            duration=duration, seed=12345)
    for name, clip in zip(names, sorted(made.rglob("*.wav"))):
        (Path(folder) / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(clip, Path(folder) / name)
    shutil.rmtree(Path(folder) / ".made")
