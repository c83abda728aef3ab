"""Execute notebooks in a real Jupyter kernel and summarize them as JSON (used by the tests).

    python tests/notebook_runner.py SUMMARY_JSON WORK_DIR NOTEBOOK [NOTEBOOK ...]

Started by conftest.py when the session begins, so the kernels run on the second
core while the other tests run on the first; ``test_teaching`` reads the summary.
Each notebook runs in WORK_DIR (its figures land there, never in the repository),
with the kernel's environment as given (the tests set OPENBLAS_NUM_THREADS=4).
"""

import json
import sys
import time
from pathlib import Path


def summarize(path, work_dir):
    import nbclient
    import nbformat
    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)  # cell ids and all: what nbformat will demand
    started = time.monotonic()
    error = None
    try:
        nbclient.NotebookClient(notebook, kernel_name="python3", timeout=300,
                                resources={"metadata": {"path": str(work_dir)}}).execute()
    except Exception as exc:  # the summary says what failed; the test fails on it
        error = f"{type(exc).__name__}: {str(exc)[-2000:]}"
    outputs = [output for cell in notebook.cells if cell.cell_type == "code"
               for output in cell.get("outputs", [])]
    return {"error": error, "seconds": round(time.monotonic() - started, 1),
            "images": sum("image/png" in o.get("data", {}) for o in outputs),
            "text": "".join(o.get("text", "") for o in outputs),
            "errors": [o.get("ename") for o in outputs if o.get("output_type") == "error"]}


def main(summary, work_dir, *notebooks):
    results = {}
    for path in notebooks:
        try:
            results[Path(path).name] = summarize(path, work_dir)
        except Exception as exc:
            results[Path(path).name] = {"error": f"{type(exc).__name__}: {exc}"}
    Path(summary).write_text(json.dumps(results))


if __name__ == "__main__":
    main(*sys.argv[1:])
