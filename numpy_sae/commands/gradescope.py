"""Gradescope: the autograder zip (``numpy-sae exercises bundle``) and what runs in it.

Gradescope unzips the bundle into /autograder/source, runs ``setup.sh`` once to
build its image, then ``run_autograder`` for every submission, which must leave
/autograder/results/results.json. Here ``setup.sh`` installs the numpy_sae
shipped inside the zip (Python >= 3.10: Gradescope's default image, Ubuntu
22.04, has 3.10) and ``run_autograder`` calls :func:`main`, which writes
results.json on every path: a graded file, a file that does not import, a
missing or misnamed one, a time-out, and (from the shell script) even when
Python itself cannot start numpy_sae.

    python -m numpy_sae.commands.gradescope SUBMISSION_DIR RESULTS_JSON --config CONFIG
"""

import argparse
import json
import sys
import time
import zipfile
from importlib import metadata
from pathlib import Path

from .. import __version__
from ..teaching import exercises
from ..teaching.assignment import NOTEBOOK_NAME
from ..teaching.remote import MEMORY_LIMIT_MB
from .exercises import TRAINING_LIMIT
from .experiment import JobError
from .outputs import check_new_files, written_output

VISIBILITIES = ("visible", "hidden", "after_due_date", "after_published")
DEFAULT_CONFIG = {"points": {}, "training_points": 2, "visibility": None, "hidden": [],
                  "max_hint": 1, "time_limit": 20.0, "memory_limit": MEMORY_LIMIT_MB,
                  "training_limit": TRAINING_LIMIT, "timeout": 600}
MARGIN = 30  # seconds kept of Gradescope's timeout to write results.json

SETUP_SH = """#!/usr/bin/env bash
# Gradescope runs this once, as root, to build the autograder's image.
set -euo pipefail
cd "$(dirname "$0")"
# Newer images mark the system Python as externally managed; older pip ignores this.
export PIP_BREAK_SYSTEM_PACKAGES=1
python3 -m pip --version >/dev/null 2>&1 || { apt-get update && apt-get install -y python3-pip; }
python3 -m pip install --upgrade pip
# The versions the bundle pins for this image's Python (numpy_sae_source/constraints.txt),
# so that rebuilding the image later installs the same ones.
python3 -m pip install -c numpy_sae_source/constraints.txt ./numpy_sae_source
python3 -c "import matplotlib, numpy, scipy, numpy_sae, sys; print('numpy_sae', \
numpy_sae.__version__, 'installed on Python', sys.version.split()[0], 'with NumPy', \
numpy.__version__, 'SciPy', scipy.__version__, 'Matplotlib', matplotlib.__version__)"
"""

RUN_AUTOGRADER = """#!/usr/bin/env bash
# Gradescope runs this for every submission; results/results.json must exist afterwards.
root="${AUTOGRADER_ROOT:-/autograder}"
results="$root/results/results.json"
mkdir -p "$root/results"
# python -m puts the working folder first on the import path: run from one that holds no
# student file (a submitted numpy_sae.py must not replace the grader).
cd "$root"
# The student's code runs as the user nobody: it may not read the instructor's settings
# or write the results (root, which grades, still can).
chmod 700 "$root/source" "$root/results" 2>/dev/null || true
python3 -m numpy_sae.commands.gradescope "$root/submission" "$results" \\
    --config "$root/source/config.json"
status=$?
if [ ! -s "$results" ]; then
    # Python or numpy_sae itself failed: the student still gets a result, and a reason.
    printf '{"score": 0, "output": "The autograder could not start (exit status %s); '\\
'your submission was not graded. Please tell your instructor.", "tests": []}\\n' \\
        "$status" > "$results"
fi
exit 0
"""


# numpy_sae's dependencies and theirs, as installed on Gradescope's default image (Python
# 3.10, for which NumPy and SciPy made their last releases, 2.2.6 and 1.15.3). numpy_sae's
# tests pass with this set on Python 3.10 (docs/teaching.md says how it was checked).
PINNED_FOR_PYTHON_310 = {
    "numpy": "2.2.6", "scipy": "1.15.3", "matplotlib": "3.10.9", "contourpy": "1.3.2",
    "cycler": "0.12.1", "fonttools": "4.65.0", "kiwisolver": "1.5.1", "packaging": "26.4",
    "pillow": "12.3.0", "pyparsing": "3.3.3", "python-dateutil": "3.0.0", "six": "1.17.0",
    "tzdata": "2026.6"}


def _constraints():
    """pip's constraints for the image: the versions installed here (those the instructor's
    own grading ran with), for an image of this Python; the set above for Python 3.10
    when this is another Python; no pin for any other Python (each line has a marker)."""
    here = f"{sys.version_info.major}.{sys.version_info.minor}"
    lines = ["# Exact versions per Python of the image; numpy_sae's setup.sh installs with",
             "# pip install -c constraints.txt. Edit to pin others."]
    for name in PINNED_FOR_PYTHON_310:
        try:
            lines.append(f'{name}=={metadata.version(name)}; python_version == "{here}"')
        except metadata.PackageNotFoundError:
            pass  # not installed here: the image's pip chooses
    if here != "3.10":
        lines += [f'{name}=={version}; python_version == "3.10"'
                  for name, version in PINNED_FOR_PYTHON_310.items()]
    return "\n".join(lines) + "\n"


def _pyproject():
    """The shipped package's build file: this install's version and runtime dependencies."""
    try:
        requires = [r for r in metadata.requires("numpy_sae") or [] if "extra ==" not in r]
    except metadata.PackageNotFoundError:
        requires = []
    requires = requires or ["numpy>=1.24", "scipy>=1.10", "matplotlib>=3.7"]
    listed = ", ".join(json.dumps(r.replace(" ", "")) for r in requires)
    return f"""[build-system]
requires = ["setuptools>=61"]
build-backend = "setuptools.build_meta"

[project]
name = "numpy_sae"
version = "{__version__}"
requires-python = ">=3.10"
dependencies = [{listed}]

[project.scripts]
numpy-sae = "numpy_sae.commands.cli:main"

[tool.setuptools.packages.find]
include = ["numpy_sae*"]

[tool.setuptools.package-data]
"numpy_sae.data" = ["split_lists/*.txt"]
"""


MAX_POINTS = 1e6  # per function: the total stays a finite float, and JSON holds it
# The grader's limits, checked alike in config.json and on the command line: key ->
# (low, high, what a value must be); time_limit is open at 0.
LIMITS = {"time_limit": (0, 3600, "seconds in (0, 3600]"),
          "memory_limit": (256, 1e6, "MB from 256 to 1e6 (below it, the student's process "
                                     "may not start NumPy)"),
          "training_limit": (10, 86400, "seconds from 10 to 86400"),
          "timeout": (60, 86400, "seconds from 60 to 86400")}


def within_limits(key, value):
    """Whether ``value`` is a number in the bounds of :data:`LIMITS` ``[key]``."""
    low, high, _ = LIMITS[key]
    return (isinstance(value, (int, float)) and not isinstance(value, bool)
            and (low < value if key == "time_limit" else low <= value) and value <= high)


def _points(weight):
    return (isinstance(weight, (int, float)) and not isinstance(weight, bool)
            and 0 <= weight <= MAX_POINTS)


def check_config(config):
    """The bundle's settings, completed with the defaults; ValueError names a bad value."""
    if not isinstance(config or {}, dict):
        raise ValueError(f"the config must be a JSON object, not {type(config).__name__}")
    config = {**DEFAULT_CONFIG, **(config or {})}
    graded = {name for _, name in exercises.GRADED}
    if not isinstance(config["points"], dict):
        raise ValueError(f"points must be an object of function: number, not "
                         f"{config['points']!r}")
    for name, weight in config["points"].items():
        if name not in graded:
            raise ValueError(f"points for {name!r}: not a graded function "
                             f"(one of {', '.join(sorted(graded))})")
        if not _points(weight):
            raise ValueError(f"points for {name}: {weight!r} is not a number from 0 to "
                             f"{MAX_POINTS:g}")
    if not _points(config["training_points"]):
        raise ValueError(f"training points {config['training_points']!r} is not a number "
                         f"from 0 to {MAX_POINTS:g}")
    if not isinstance(config["hidden"], list):
        raise ValueError(f"hidden: {config['hidden']!r} is not a list of graded functions "
                         "(or 'training')")
    unknown = [name for name in config["hidden"] if name not in graded | {"training"}]
    if unknown:
        raise ValueError(f"hidden: {unknown or config['hidden']!r} are not graded functions "
                         "(or 'training')")
    if config["visibility"] not in (None, *VISIBILITIES):
        raise ValueError(f"visibility {config['visibility']!r}: choose from "
                         f"{', '.join(VISIBILITIES)}")
    for key, (_, _, wanted) in LIMITS.items():
        if not within_limits(key, config[key]):
            raise ValueError(f"{key.replace('_', ' ')} {config[key]!r} is not a number of "
                             f"{wanted}")
    if config["max_hint"] not in (0, 1, 2, 3):
        raise ValueError(f"max hint {config['max_hint']!r}: choose 0, 1, 2 or 3")
    return config


def _shipped(relative):
    """Whether a file of the package goes into the bundle: never bytecode, hidden files and
    folders (.ipynb_checkpoints, .DS_Store) or an editor's backups and merge leftovers."""
    name = relative.name
    return ("__pycache__" not in relative.parts
            and not any(part.startswith(".") for part in relative.parts)
            and relative.suffix not in (".pyc", ".pyo", ".swp", ".swo", ".bak", ".orig", ".rej",
                                        ".tmp")
            and not name.endswith("~") and not name.startswith("#"))


def write_bundle(target, config=None, force=False, log=print):
    """Write the Gradescope autograder zip at ``target``: setup.sh, run_autograder,
    config.json and this numpy_sae's source (numpy_sae_source/)."""
    config = check_config(config)
    package = Path(__file__).resolve().parents[1]
    files = sorted(p for p in package.rglob("*")
                   if p.is_file() and _shipped(p.relative_to(package)))
    check_new_files([target], force=force)  # before the work, not after it
    with written_output(target, force) as tmp:
        with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as bundle:
            for name, text in (("setup.sh", SETUP_SH), ("run_autograder", RUN_AUTOGRADER)):
                info = zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0))
                info.external_attr = 0o100755 << 16  # executable, as Gradescope needs
                bundle.writestr(info, text)
            for name, text in (("config.json", json.dumps(config, indent=1) + "\n"),
                               ("numpy_sae_source/pyproject.toml", _pyproject()),
                               ("numpy_sae_source/constraints.txt", _constraints())):
                info = zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0))
                info.external_attr = 0o100644 << 16
                bundle.writestr(info, text)
            for path in files:
                bundle.write(path, f"numpy_sae_source/numpy_sae/{path.relative_to(package)}")
    total = sum(config["points"].get(name, 1) for _, name in exercises.GRADED)
    log(f"wrote {target}: setup.sh, run_autograder, config.json and numpy_sae {__version__} "
        f"({len(files)} files); {total:g} points for the functions and "
        f"{config['training_points']:g} for training; upload it as the autograder "
        "(Ubuntu 22.04 base image, Python 3.10 or newer)")
    return Path(target)


def find_submission(folder, log=print):
    """The student's file in a submission folder, at any depth (an uploaded folder nests
    it): backprop.py or backprop.ipynb, the shallowest; of both in one folder, the one
    with more functions written (exercises.choose_submission, which logs why). JobError
    names what was found instead."""
    from .exercises import choose_submission
    folder = Path(folder)
    found = sorted((p for name in (exercises.FILE_NAME, NOTEBOOK_NAME)
                    for p in folder.rglob(name) if p.is_file()),
                   key=lambda p: (len(p.relative_to(folder).parts), str(p)))
    if found:
        shallowest = [p for p in found if p.parent == found[0].parent]
        return choose_submission(shallowest, log)
    seen = sorted(p.name for p in folder.rglob("*") if p.is_file())[:10] if folder.is_dir() \
        else []
    raise JobError(f"no {exercises.FILE_NAME} or {NOTEBOOK_NAME} in the submission (found: "
                   f"{', '.join(seen) or 'nothing'}); submit the file under that name")


def grade_submission(submission, results, config, log=print):
    """Grade one submission into ``results``; results.json is written on every path."""
    started = time.monotonic()
    config = check_config(config)
    options = {"results": results, "force": True, "points": config["points"],
               "training_points": config["training_points"],
               "visibility": config["visibility"], "hidden": config["hidden"],
               "max_hint": config["max_hint"],
               "time_limit": config["time_limit"], "memory_limit": config["memory_limit"],
               "training_limit": config["training_limit"],
               # Gradescope stops the whole run at its timeout: training gets what is left.
               "deadline": started + config["timeout"] - MARGIN}
    from .exercises import _failed_results, _write_results, run_check
    settings = {"visibility": config["visibility"], "started": started}
    # Written first, replaced when grading ends: if Gradescope stops the run on its own time
    # limit, the student still reads why.
    _write_results(results, _failed_results(
        "grading did not finish: it was stopped (Gradescope's time limit?); a function that "
        "runs very long or never returns is the usual cause", settings), True)
    notes = []
    try:
        path = find_submission(submission, log=notes.append)
    except JobError as exc:
        _write_results(results, _failed_results(str(exc), settings), True)
        log(f"error: {exc}")
        return
    try:
        for note in notes:
            log(note)
        run_check(path.parent, log=log, student_file=path, note=" ".join(notes) or None,
                  **options)
    except JobError as exc:  # run_check has written the results with the reason
        log(f"error: {exc}")
    except Exception as exc:  # the student must still get a result, never a blank page
        _write_results(results, _failed_results(
            f"the autograder failed while grading: {type(exc).__name__}: {exc}", settings), True)
        log(f"error: {type(exc).__name__}: {exc}")


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m numpy_sae.commands.gradescope",
                                     description="grade a Gradescope submission folder")
    parser.add_argument("submission", help="the submission folder (/autograder/submission)")
    parser.add_argument("results", help="the results.json to write")
    parser.add_argument("--config", help="the bundle's config.json")
    args = parser.parse_args(argv)
    try:
        config = json.loads(Path(args.config).read_text()) if args.config else {}
    except (OSError, ValueError) as exc:
        print(f"error: config {args.config}: {exc}; grading with the defaults", file=sys.stderr)
        config = {}
    try:
        check_config(config)
    except ValueError as exc:
        print(f"error: config {args.config}: {exc}; grading with the defaults", file=sys.stderr)
        config = {}
    grade_submission(args.submission, args.results, config)
    return 0


if __name__ == "__main__":
    sys.exit(main())
