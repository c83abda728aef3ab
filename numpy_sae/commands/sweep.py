"""The study's open question, measured: how large must the code be?

``numpy-sae sweep --code-dims 4,8,16,32,64,128`` runs song-level
cross-validation once per code size and writes a table (``sweep.csv``,
``sweep.md``) and a figure (``sweep.png``): reconstruction R^2 of the
autoencoder next to PCA of the same size, and window and song accuracy.
"""

import csv
from dataclasses import replace
from datetime import datetime
from pathlib import Path

from .crossval import cross_validate
from .experiment import load_dataset

COLUMNS = ("r2_autoencoder", "r2_pca", "window", "song")


def sweep(dataset, settings, code_dims, folds=5, log=print):
    """Cross-validate once per code size; return one row per size (means and stds)."""
    rows = []
    for code_dim in code_dims:
        log(f"code size {code_dim}:")
        result = cross_validate(dataset.clipset, replace(settings, code_dim=code_dim), folds,
                                log, dataset.unlabeled)
        row = {"code_dim": code_dim}
        for name in COLUMNS:
            row[f"{name}_mean"], row[f"{name}_std"] = result[f"{name}_mean"], result[f"{name}_std"]
        rows.append(row)
    return rows


def format_sweep(rows, chance):
    """Markdown table of a sweep."""
    lines = ["| code size | R^2 autoencoder | R^2 PCA | window accuracy | song accuracy |",
             "|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['code_dim']} | " + " | ".join(
            f"{r[f'{name}_mean']:.3f} +- {r[f'{name}_std']:.3f}" for name in COLUMNS) + " |")
    lines.append(f"| chance | | | {chance:.3f} | {chance:.3f} |")
    return "\n".join(lines)


def run_sweep(settings, code_dims, folds=5, name=None, log=print):
    """The ``numpy-sae sweep`` command: data, one cross-validation per size, table and figure."""
    from .. import plots  # matplotlib is imported only when figures are drawn

    dataset = load_dataset(settings, log)
    out = Path(settings.out) / (name or f"sweep-{datetime.now():%Y%m%d-%H%M%S}")
    if (out / "sweep.csv").exists():
        raise FileExistsError(f"{out} already holds a sweep; pick another --name")
    log(f"{folds}-fold song-level cross-validation per code size {', '.join(map(str, code_dims))} "
        f"on {len(dataset.clipset)} clips ({dataset.describe()})")
    rows = sweep(dataset, settings, code_dims, folds, log)
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "sweep.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    chance = 1.0 / len(dataset.clipset.genre_names)
    table = format_sweep(rows, chance)
    (out / "sweep.md").write_text(table + "\n")
    plots.plot_sweep(rows, chance, out / "sweep.png")
    log("")
    log(table)
    log(f"wrote {out}/: sweep.csv, sweep.md, sweep.png")
    return rows
