"""Jupyter notebooks from the ``# %%`` lecture scripts, so the scripts stay the one source.

A script's module docstring becomes the first (markdown) cell, followed by an
install cell (numpy_sae is not on PyPI: the cell installs it from a source the
reader names, only when the kernel lacks it). ``# %% [markdown]`` starts a
markdown cell whose ``# ``-comment lines are its text (LaTeX and all);
``# %%`` starts a code cell; ``# %% Title`` a ``## Title`` heading and a code
cell. The code before the first marker (imports, helpers) is the first code
cell. Written as nbformat 4.5 JSON by hand, with cell ids: no Jupyter package
is needed to make them, only to open them.
"""

import ast
import json

MARKER = "# %%"
MARKDOWN = "# %% [markdown]"
INSTALL_CELL = """# Install numpy_sae if this kernel lacks it (Colab, a fresh environment): set SOURCE to
# the folder or git URL your course uses. Nothing happens when numpy_sae imports already.
# One BLAS thread, set before NumPy loads, makes a lecture's figures the same every run
# (another CPU's kernels may still change a chaotic run's digits); %matplotlib inline shows its figures (matplotlib Figure objects) in the notebook.
import importlib.util
import os
import subprocess
import sys

for variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[variable] = "1"
%matplotlib inline

SOURCE = "numpy_sae"
if importlib.util.find_spec("numpy_sae") is None:
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", SOURCE], check=True)"""


def install_cell(source=None):
    """The assignment's first code cell: numpy_sae installed from ``source`` (a folder or a
    git URL, what ``pip install`` takes) when the kernel lacks it; with no source, the cell
    stops with a line asking for one (numpy_sae is not on PyPI under its name, and a
    student's kernel must never install whatever a public index holds under it)."""
    chosen = repr(source) if source else "None  # the folder or git URL your course gives"
    return f"""# Install numpy_sae if this kernel lacks it (Colab, a fresh environment). Nothing
# happens when numpy_sae imports already.
import importlib.util
import subprocess
import sys

%matplotlib inline

SOURCE = {chosen}
if importlib.util.find_spec("numpy_sae") is None:
    if SOURCE is None:
        raise SystemExit("numpy_sae is not installed in this kernel: set SOURCE in this cell "
                         "to the folder or git URL your course gives, then run it again")
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", SOURCE], check=True)"""


def notebook_cells(source):
    """(kind, text) pairs, kind "markdown" or "code", from a ``# %%`` script."""
    module = ast.parse(source)
    docstring = ast.get_docstring(module)
    lines = source.splitlines()
    body_start = module.body[0].end_lineno if docstring else 0
    cells = [("markdown", docstring)] if docstring else []
    cells.append(("code", INSTALL_CELL))
    chunk, title, kind = [], None, "code"

    def flush():
        if kind == "markdown":
            text = "\n".join(line[2:] if line.startswith("# ") else line.lstrip("#")
                             for line in chunk).strip("\n")
            if text:
                cells.append(("markdown", text))
            return
        code = "\n".join(chunk).strip("\n")
        if title:
            cells.append(("markdown", f"## {title}"))
        if code:
            cells.append(("code", code))
    for line in lines[body_start:]:
        if line.startswith(MARKER):
            flush()
            kind = "markdown" if line.startswith(MARKDOWN) else "code"
            chunk, title = [], None if kind == "markdown" else \
                (line[len(MARKER):].strip() or None)
        else:
            chunk.append(line)
    flush()
    return cells


def notebook_json(source):
    """The text of an .ipynb file for a ``# %%`` script (stable: the same script gives the
    same bytes, so a test can tell whether a shipped notebook is up to date)."""
    return notebook_from_cells([(kind, text, []) for kind, text in notebook_cells(source)])


def notebook_from_cells(cells):
    """The text of an nbformat 4.5 notebook from (kind, text, tags) triples: every cell has
    an id (derived from its position, so the bytes are stable) and no outputs."""
    def cell(number, kind, text, tags):
        entry = {"cell_type": kind, "id": f"cell-{number:03d}",
                 "metadata": {"tags": list(tags)} if tags else {},
                 "source": text.splitlines(keepends=True)}
        if kind == "code":
            entry.update(execution_count=None, outputs=[])
        return entry
    notebook = {"cells": [cell(i, *c) for i, c in enumerate(cells)],
                "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python",
                                            "name": "python3"},
                             "language_info": {"name": "python"}},
                "nbformat": 4, "nbformat_minor": 5}
    return json.dumps(notebook, indent=1, ensure_ascii=False) + "\n"
