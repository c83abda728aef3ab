"""The package as a newcomer installs it: declared dependencies, and worker processes that
start with spawn, as they do on macOS and Windows."""

import configparser
import importlib.metadata
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import ROOT
from numpy_sae.data.gtzan import Preprocessing, build_clipset
from numpy_sae.data.synth import generate_dataset

RUNTIME = ("numpy", "scipy", "matplotlib")


def test_setup_cfg_keeps_the_dependencies_under_options():
    # A section header between [options]' keys moves them to another section, silently.
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg")
    requires = config.get("options", "install_requires", fallback="")
    assert all(name in requires for name in RUNTIME), requires
    assert config.get("options", "python_requires", fallback="") == ">=3.10"


def test_the_installed_distribution_declares_its_dependencies():
    requires = importlib.metadata.requires("numpy_sae") or []
    runtime = {r.split(">")[0].split("=")[0].strip() for r in requires if "extra ==" not in r}
    assert set(RUNTIME) <= runtime, requires
    assert importlib.metadata.metadata("numpy_sae")["Requires-Python"] == ">=3.10"


def test_parallel_builds_use_spawned_workers(tmp_path):
    # Two workers: the synthetic files and the clip loading both go through spawned processes.
    root = generate_dataset(tmp_path, genres=("classical", "metal"), clips_per_genre=2,
                            duration=2.0, seed=3, workers=2)
    serial = build_clipset(root, "all", Preprocessing(), use_cache=False, workers=1, log=None)
    parallel = build_clipset(root, "all", Preprocessing(), use_cache=False, workers=2, log=None)
    np.testing.assert_array_equal(serial.signals, parallel.signals)
    assert serial.paths == parallel.paths and len(serial) == 4


def test_the_main_job_example_runs_where_workers_spawn(tmp_path):
    # --quick generates its clips with two workers (24 for two genres), which are started
    # with spawn: an example without its __main__ guard would die in their bootstrapping.
    env = {**os.environ, "NUMPY_SAE_CACHE": str(tmp_path / "cache"), "MPLBACKEND": "Agg"}
    env.pop("GTZAN_DIR", None)
    done = subprocess.run([sys.executable, str(ROOT / "examples" / "train_gtzan.py"), "--quick",
                           "--epochs", "1", "--out", str(tmp_path / "runs"), "--name", "spawned",
                           "--genres", "classical,metal", "--no-figures"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert (tmp_path / "runs" / "spawned" / "report.txt").exists()


def _marked_processes(mark):
    """Pids of live processes whose environment holds ``mark`` (Linux /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if mark.encode() in (entry / "environ").read_bytes():
                    status = (entry / "status").read_text()
                    if "\nState:\tZ" not in status:  # a zombie has ended
                        found.append(int(entry.name))
            except OSError:
                continue
    return found


@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="needs Linux's /proc")
@pytest.mark.parametrize("how", ["SIGTERM", "SIGKILL"])
def test_spawned_workers_end_with_their_parent(tmp_path, how):
    # Round 5, C4: SIGTERM (or SIGKILL) during loading left the spawned workers idle forever.
    import signal
    import time
    import uuid
    mark = f"NUMPY_SAE_TEST_MARK={uuid.uuid4().hex}"
    code = ("import time; from numpy_sae.data.parallel import map_in_workers; "
            "print('ready', flush=True); map_in_workers(time.sleep, [30] * 4, 2, chunksize=1)")
    env = {**os.environ, mark.split("=")[0]: mark.split("=")[1]}
    child = subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    assert child.stdout.readline().strip() == "ready"
    deadline = time.time() + 30
    while len(_marked_processes(mark)) < 3 and time.time() < deadline:  # parent + 2 workers
        time.sleep(0.2)
    assert len(_marked_processes(mark)) >= 3
    child.send_signal(getattr(signal, how))
    child.wait(timeout=30)
    deadline = time.time() + 15
    while _marked_processes(mark) and time.time() < deadline:
        time.sleep(0.2)
    assert not _marked_processes(mark), "workers outlived their parent"
