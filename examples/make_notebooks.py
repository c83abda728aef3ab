"""Write examples/notebooks/*.ipynb from the ``# %%`` lecture scripts (their one source).

    python examples/make_notebooks.py             # cells only
    python examples/make_notebooks.py --execute   # and run them in a Jupyter kernel, so the
                                                  # notebooks show their output and figures
                                                  # when viewed (GitHub); needs nbclient

Run it after changing a lecture script; a test fails while a notebook's cells differ
from its script's (outputs are not compared, so an executed notebook stays up to date).
"""

import argparse
import sys
import tempfile
from pathlib import Path

from numpy_sae.notebooks import notebook_json

EXAMPLES = Path(__file__).resolve().parent
LECTURES = ("backprop_walkthrough", "lecture_training_dynamics")


def execute(target):
    """Run a notebook in a python3 kernel, in a temporary folder (the lecture writes its
    figures to ./training_dynamics), and save it with its outputs."""
    import nbclient
    import nbformat
    notebook = nbformat.read(target, as_version=4)
    with tempfile.TemporaryDirectory() as tmp:
        nbclient.NotebookClient(notebook, kernel_name="python3", timeout=600,
                                resources={"metadata": {"path": tmp}}).execute()
    nbformat.write(notebook, target)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--execute", action="store_true",
                        help="run every notebook in a kernel and keep its outputs")
    args = parser.parse_args()
    for name in LECTURES:
        target = EXAMPLES / "notebooks" / f"{name}.ipynb"
        target.parent.mkdir(exist_ok=True)
        target.write_text(notebook_json((EXAMPLES / f"{name}.py").read_text()))
        if args.execute:
            try:
                execute(target)
            except ImportError:
                sys.exit("--execute needs nbclient, nbformat and ipykernel: "
                         "pip install -e \".[test]\"")
        print(f"wrote {target}" + (" (executed)" if args.execute else ""))
