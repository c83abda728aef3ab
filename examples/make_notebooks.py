"""Write examples/notebooks/*.ipynb from the ``# %%`` lecture scripts (their one source).

    python examples/make_notebooks.py

Run it after changing a lecture script; a test fails while a notebook is out of date.
"""

from pathlib import Path

from numpy_sae.notebooks import notebook_json

EXAMPLES = Path(__file__).resolve().parent
LECTURES = ("backprop_walkthrough", "lecture_training_dynamics")

if __name__ == "__main__":
    for name in LECTURES:
        target = EXAMPLES / "notebooks" / f"{name}.ipynb"
        target.parent.mkdir(exist_ok=True)
        target.write_text(notebook_json((EXAMPLES / f"{name}.py").read_text()))
        print(f"wrote {target}")
