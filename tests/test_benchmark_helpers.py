"""The benchmark scripts' arithmetic (their timings are figures to read, never asserted)."""

import numpy as np


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
