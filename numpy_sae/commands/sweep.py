"""The study's open question, measured: how large must the code be?

``numpy-sae sweep --code-dims 4,8,16,32,64,128`` runs song-level
cross-validation once per code size and writes a table (``sweep.csv``,
``sweep.md``) and a figure (``sweep.png``): reconstruction R^2 of the
autoencoder next to PCA of the same size, and window and song accuracy.
"""

import csv
from dataclasses import replace
from datetime import datetime

from .crossval import cross_validate
from .experiment import load_dataset
from .models import describe_settings, model_kind
from .outputs import check_name, new_folder

COLUMNS = ("r2_autoencoder", "r2_pca", "window", "song")


def sweep(dataset, settings, code_dims, folds=5, log=print, on_row=None, on_fold=None):
    """Cross-validate once per code size; return one row per size (means and stds).

    on_row : callable(row) or None, called as each size finishes
    on_fold : callable(code_dim, fold figures) or None, called as each fold finishes (the
        command writes both to files then, so an interrupted sweep keeps what it finished)
    """
    rows = []
    for code_dim in code_dims:
        log(f"code size {code_dim}:")
        result = cross_validate(dataset.clipset, replace(settings, code_dim=code_dim), folds,
                                log, dataset.unlabeled,
                                on_fold=on_fold and (lambda fold: on_fold(code_dim, fold)))
        row = {"code_dim": code_dim}
        for name in COLUMNS:
            row[f"{name}_mean"], row[f"{name}_std"] = result[f"{name}_mean"], result[f"{name}_std"]
        rows.append(row)
        if on_row is not None:
            on_row(row)
    return rows


def format_sweep(rows, chance, unit="window"):
    """Markdown table of a sweep; ``unit`` names what one row of predictions is."""
    lines = [f"| code size | R^2 autoencoder | R^2 PCA | {unit} accuracy | song accuracy |",
             "|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['code_dim']} | " + " | ".join(
            f"{r[f'{name}_mean']:.3f} +- {r[f'{name}_std']:.3f}" for name in COLUMNS) + " |")
    lines.append(f"| chance | | | {chance:.3f} | {chance:.3f} |")
    return "\n".join(lines)


def run_sweep(settings, code_dims, folds=5, name=None, log=print):
    """The ``numpy-sae sweep`` command: data, one cross-validation per size, table and figure."""
    from .. import plots  # matplotlib is imported only when figures are drawn

    if name is not None:
        check_name(name, "sweep")
    dataset = load_dataset(settings, log)
    if name is None:
        out = new_folder(settings.out, f"sweep-{datetime.now():%Y%m%d-%H%M%S}", numbered=True)
    else:
        out = new_folder(settings.out, name)
    log(f"{folds}-fold song-level cross-validation per code size {', '.join(map(str, code_dims))} "
        f"on {len(dataset.clipset)} clips ({dataset.describe()}); {describe_settings(settings)}")
    fields = ["code_dim"] + [f"{n}_{s}" for n in COLUMNS for s in ("mean", "std")]
    fold_fields = ["code_dim", "fold", "window", "song", "song_logmean", "song_vote", "ece",
                   "r2_autoencoder", "r2_pca", "epochs"]
    with open(out / "sweep.csv", "w", newline="") as summary, \
            open(out / "folds.csv", "w", newline="") as per_fold:
        writers = {summary: csv.DictWriter(summary, fieldnames=fields),
                   per_fold: csv.DictWriter(per_fold, fieldnames=fold_fields)}
        for fh, writer in writers.items():
            writer.writeheader()
            fh.flush()

        def write(fh, row):
            writers[fh].writerow(row)
            fh.flush()  # on disk now: Ctrl-C later loses nothing that finished
        rows = sweep(dataset, settings, code_dims, folds, log,
                     on_row=lambda row: write(summary, row),
                     on_fold=lambda code_dim, fold: write(per_fold, {"code_dim": code_dim, **fold}))
    chance = 1.0 / len(dataset.clipset.genre_names)
    unit = "segment" if model_kind(settings.model).segmented else "window"
    table = format_sweep(rows, chance, unit)
    (out / "sweep.md").write_text(table + "\n")
    plots.plot_sweep(rows, chance, out / "sweep.png")
    log("")
    log(table)
    log(f"wrote {out}/: sweep.csv, folds.csv, sweep.md, sweep.png")
    return rows
