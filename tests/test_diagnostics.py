"""Pictures of learning: saturation on a hand-built layer, the callback, the diagnose command."""

import json

import numpy as np
import pytest
from conftest import small_network

from numpy_sae.commands.cli import main
from numpy_sae.diagnostics import TrainingDiagnostics, flat_share, inactive_share
from numpy_sae.nn.layers import Dense, ReLU, Sigmoid, Tanh
from numpy_sae.nn.optim import Adam
from numpy_sae.train import Trainer, WindowSource

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_saturation_share_on_a_hand_built_layer():
    layer = Dense(2, 4, np.random.default_rng(0), dtype=np.float64)
    layer.params["W"][...] = [[10.0, 0.1, -10.0, 1.0], [0.0, 0.0, 0.0, 0.0]]
    x = np.array([[1.0, 5.0], [0.5, -2.0]])
    out = Tanh().forward(layer.forward(x))
    # tanh(10) and tanh(-10) are saturated, tanh(0.1) and tanh(1) are not; so are
    # tanh(5) and tanh(-5) on the second row, tanh(0.05) and tanh(0.5) not.
    assert flat_share(Tanh(), out) == pytest.approx(0.5)
    sig = Sigmoid().forward(np.array([[-10.0, 0.0, 10.0, 1.0]]))
    assert flat_share(Sigmoid(), sig) == pytest.approx(0.5)
    relu_out = ReLU().forward(np.array([[-1.0, 0.0, 2.0, 3.0]]))
    assert np.isnan(flat_share(ReLU(), relu_out))  # a ReLU does not saturate
    assert inactive_share(ReLU(), relu_out) == 0.5


def test_the_callback_records_every_layer_every_epoch(rng):
    network = small_network(encoder_hidden=(8, 6))
    x = rng.standard_normal((64, 10)).astype(np.float32)
    y = rng.integers(0, 3, 64)
    network.fit_scaling(x)
    diagnostics = TrainingDiagnostics(x[:32], y[:32])
    diagnostics.start(network)
    Trainer(network, Adam(1e-2), WindowSource(x, y), batch_size=16,
            rng=np.random.default_rng(0), log=None).fit(3, on_epoch_end=diagnostics)
    records = diagnostics.records
    assert records["epochs"] == [0, 1, 2, 3]
    # One name per layer: the activation after encoder.0.W is "encoder.0".
    assert diagnostics.layers("saturation") == ["encoder.0", "encoder.2", "encoder.4",
                                                "decoder.0", "decoder.2", "classifier.0"]
    assert all(f"{name}.W" in records for name in diagnostics.layers("saturation"))
    assert diagnostics.layers("gradient_norm") == [k for k in network.parameters()
                                                   if k.endswith(".W")]
    for name in diagnostics.layers("gradient_norm"):
        ratios = records[name]["update_ratio"]
        assert np.isnan(ratios[0]) and all(0 < r < 1 for r in ratios[1:])
        assert all(g > 0 for g in records[name]["gradient_norm"])
    histogram = records["encoder.0"]["histogram"][-1]
    assert sum(histogram["counts"]) == 32 * 8 and histogram["range"] == [-1.0, 1.0]


def test_diagnose_writes_its_figures(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("NUMPY_SAE_CACHE", str(tmp_path / "cache"))
    from numpy_sae.data.synth import generate_dataset
    generate_dataset(tmp_path / "data", genres=("pop", "metal"), clips_per_genre=5,
                     duration=2.0, seed=0)
    assert main(["train", "--model", "joint", "--data", str(tmp_path / "data"), "--genres",
                 "pop,metal",
                 "--epochs", "1", "--batch-size", "8", "--crops", "2", "--out",
                 str(tmp_path), "--name", "r", "--no-figures"]) == 0
    assert main(["diagnose", str(tmp_path / "r"), "--epochs", "2"]) == 0
    out = tmp_path / "r" / "diagnose"
    for name in ("saturation.png", "gradient_norms.png", "update_ratios.png", "variants.png"):
        assert (out / name).read_bytes().startswith(PNG_MAGIC)
    records = json.loads((out / "diagnostics.json").read_text())
    assert len(records) == 4 and all(r["epochs"] == [0, 1, 2] for r in records.values())
    assert "tanh, naive N(0, 1)" in capsys.readouterr().out
    # Round 5, L3: a second diagnose replaces nothing without --force, and --force
    # replaces a link itself, never the file it points to.
    before = (out / "variants.png").read_bytes()
    assert main(["diagnose", str(tmp_path / "r"), "--epochs", "1"]) == 1
    assert "already exists" in capsys.readouterr().err
    assert (out / "variants.png").read_bytes() == before
    notes = tmp_path / "notes.txt"
    notes.write_text("my notes")
    (out / "diagnostics.json").unlink()
    (out / "diagnostics.json").symlink_to(notes)
    assert main(["diagnose", str(tmp_path / "r"), "--epochs", "1", "--force"]) == 0
    assert notes.read_text() == "my notes" and not (out / "diagnostics.json").is_symlink()
