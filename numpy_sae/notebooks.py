"""Jupyter notebooks from the ``# %%`` lecture scripts, so the scripts stay the one source.

A script's module docstring becomes the first (markdown) cell; each
``# %% Title`` line starts a markdown cell with the title and a code cell with
what follows, up to the next marker. The code before the first marker (the
imports and helpers) is the first code cell. Written as nbformat 4 JSON by
hand: no Jupyter package is needed to make them, only to open them.
"""

import ast
import json

MARKER = "# %%"


def notebook_cells(source):
    """(kind, text) pairs, kind "markdown" or "code", from a ``# %%`` script."""
    module = ast.parse(source)
    docstring = ast.get_docstring(module)
    lines = source.splitlines()
    body_start = module.body[0].end_lineno if docstring else 0
    cells = [("markdown", docstring)] if docstring else []
    chunk, title = [], None

    def flush():
        code = "\n".join(chunk).strip("\n")
        if title:
            cells.append(("markdown", f"## {title}"))
        if code:
            cells.append(("code", code))
    for line in lines[body_start:]:
        if line.startswith(MARKER):
            flush()
            chunk, title = [], line[len(MARKER):].strip() or None
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
