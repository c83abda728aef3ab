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


# ----- round 5: W1, W2, L4, C1, C7 ---------------------------------------------------------
@pytest.fixture(scope="module")
def three_genres(tmp_path_factory):
    from numpy_sae.data.synth import generate_dataset
    return generate_dataset(tmp_path_factory.mktemp("bench"), genres=("classical", "metal", "pop"),
                            clips_per_genre=4, duration=4.0, seed=2)


def test_compare_models_scores_each_row_on_its_own_genres(load_example, three_genres,
                                                         tmp_path, capsys):
    compare = load_example("compare_models")
    out = tmp_path / "cmp.csv"
    assert compare.main(["--data", str(three_genres), "--seeds", "0", "--folds", "2",
                         "--epochs", "1", "--no-cache", "--csv", str(out),
                         "--row", "two=--model features-logistic --genres classical,metal",
                         "--row", "three=--model features-logistic --genres all"]) == 0
    text = capsys.readouterr().out
    # W1: the 3-genre row read its own 12 songs, not the 2-genre row's 8.
    from numpy_sae.commands.cli import main
    assert main(["cv", "--data", str(three_genres), "--genres", "all", "--folds", "2",
                 "--epochs", "1", "--no-cache", "--model", "features-logistic", "--json"]) == 0
    alone = __import__("json").loads(capsys.readouterr().out)
    three = next(line for line in text.splitlines() if line.startswith("| three |"))
    assert f"{alone['window_mean']:.3f} +- {alone['window_std']:.3f}" in three, (three, alone)
    # L4: the per-fold CSV of that run is not replaced by the next one without --force.
    before = out.read_text()
    assert compare.run_main(compare.main, ["--data", str(three_genres), "--seeds", "1",
                                           "--folds", "2", "--csv", str(out),
                                           "--row", "x=--model features-logistic"]) == 1
    assert "already exist" in capsys.readouterr().err and out.read_text() == before


@pytest.mark.parametrize("argv, message", [
    (["--row", "A=--epochs -1"], "--epochs: expected a number of epochs from 1"),
    (["--folds", "0", "--row", "A=--model features-logistic"], "--folds must be at least 2"),
    (["--row", "A=--model features-logistic --folds 3"], "every row uses the table's --folds"),
])
def test_compare_models_mistakes_are_one_line(load_example, tmp_path, capsys, argv, message):
    compare = load_example("compare_models")
    assert compare.run_main(compare.main, ["--csv", str(tmp_path / "c.csv"), *argv]) == 1
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n")
    assert compare.run_main(compare.main, ["--table", str(bad)]) == 1
    assert "no column row, seed, fold" in capsys.readouterr().err


def test_select_settings_scores_each_candidate_with_its_own_options(load_example, three_genres,
                                                                   capsys):
    select = load_example("select_settings")
    assert select.main(["--data", str(three_genres), "--genres", "classical,metal", "--model",
                        "segment", "--epochs", "1", "--crops", "1", "--folds", "2",
                        "--inner-folds", "2", "--no-cache", "--segment-seconds", "1",
                        "--candidate", "--window 1024", "--candidate", "--window 512"]) == 0
    lines = [line for line in capsys.readouterr().out.splitlines() if "alone:" in line]
    # W2: another window is another model: its figures are its own, not the first's.
    from numpy_sae.commands.cli import main
    for line, window in zip(lines, ("1024", "512")):
        assert main(["cv", "--data", str(three_genres), "--genres", "classical,metal",
                     "--model", "segment", "--epochs", "1", "--crops", "1", "--folds", "2",
                     "--no-cache", "--segment-seconds", "1", "--window", window, "--json"]) == 0
        alone = __import__("json").loads(capsys.readouterr().out)
        assert f"{alone['window_mean']:.3f} +- {alone['window_std']:.3f}" in line, (line, alone)


def test_label_efficiency_draws_its_figure_and_keeps_its_outputs(load_example, tmp_path,
                                                                capsys):
    labels = load_example("label_efficiency")
    rows = [{"seed": 0, "fold": k, "labeled": L, "model": m, "segment": 0.5, "song": 0.6}
            for k in (1, 2) for L in (1, 2) for m in labels.MODELS]
    out = tmp_path / "le"
    labels.write_outputs(rows, out, 0.1, [1, 2])  # C1: it ended in an AttributeError
    assert (tmp_path / "le.png").read_bytes().startswith(b"\x89PNG")
    assert labels.run_main(labels.main, ["--labeled", "0", "--out", str(tmp_path / "z")]) == 1
    assert "--labeled takes labeled songs per genre" in capsys.readouterr().err
    (tmp_path / "le.csv").write_text("seed,fold,labeled,model,segment,song\n")
    assert labels.run_main(labels.main, ["--out", str(out)]) == 1  # L4
    assert "already exist" in capsys.readouterr().err
