"""The benchmark scripts' arithmetic (their timings are figures to read, never asserted)."""

import numpy as np
import pytest


def test_flops_match_the_architecture(load_example):
    bench = load_example("benchmark")
    weights = sum(a * b for a, b in bench.layer_shapes())
    assert weights + 1848 == 430_392  # 1848 biases
    # forward 2ab, backward 4ab per example, minus the first layer's unneeded dx
    assert bench.flops_per_epoch() == (6 * weights - 2 * 500 * 256) * 8000 == 18_522_112_000


def test_numpy_worker_reports_epoch_times(monkeypatch, load_example):
    bench = load_example("benchmark")
    monkeypatch.setattr(bench, "N_WINDOWS", 600)
    result = bench.numpy_worker(2, ceiling=False)
    assert len(result["epoch_seconds"]) == 2 and result["peak_rss_mb"] > 0
    assert np.all(np.array(result["epoch_seconds"]) > 0)
    assert "ceiling_seconds" not in result


def test_ceiling_times_every_product_of_an_epoch(monkeypatch, load_example):
    bench = load_example("benchmark")
    monkeypatch.setattr(bench, "N_WINDOWS", 600)  # one batch of 512 and one of 88
    calls = []
    monkeypatch.setattr(bench, "_timed", lambda fn: calls.append(fn) or 1.0)
    # Every timed call counts 1 s, times the number of batches of its size.
    assert bench.matmul_ceiling(repeats=2) == 2 * 29
    assert len(calls) == 2 * 2 * 29  # 10 layers x 3 products - 1 (no input gradient), 2 repeats


def test_compare_models_pairs_folds_and_merges_runs(load_example, tmp_path):
    compare = load_example("compare_models")
    rows = [("base", 0, 1, 0.5, 0.6), ("base", 0, 2, 0.7, 0.8), ("new", 0, 1, 0.6, 0.6),
            ("new", 0, 2, 0.6, 0.9)]
    first, second = tmp_path / "a.csv", tmp_path / "b.csv"
    for path, chosen in ((first, rows), (second, rows[:2] + [("other", 0, 1, 0.9, 0.9)])):
        path.write_text("row,seed,fold,segment,song\n" + "".join(
            f"{r},{s},{k},{g},{n}\n" for r, s, k, g, n in chosen))
    merged = compare.read_csvs([first, second])
    assert set(merged) == {"base", "new", "other"}
    text = compare.table(merged, "base")
    # new - base per fold: segment +0.1, -0.1 (1 won, 1 lost); song 0.0, +0.1.
    assert "| new | 1 x 2 | 0.600 +- 0.000 | 0.750 +- 0.150 | +0.000 +- 0.100 (1/0/1) | " \
           "+0.050 +- 0.050 (1/1/0) |" in text
    second.write_text("row,seed,fold,segment,song\nbase,0,1,0.9,0.9\n")
    with pytest.raises(SystemExit, match="0.5 in one file, 0.9"):
        compare.read_csvs([first, second])
