import json
import pickle
import zipfile

import numpy as np
import pytest
from conftest import small_network

from numpy_sae.modelfile import ModelFileError, load_model_file, save_model_file
from numpy_sae.nn.optim import Adam
from numpy_sae.train import Trainer, WindowSource


def small(seed=0):
    return small_network(seed=seed)


@pytest.fixture
def trained(rng, tmp_path):
    x = rng.standard_normal((40, 10)).astype(np.float32)
    y = rng.integers(0, 3, 40)
    model = small()
    model.fit_scaling(x * 2 + 1)
    trainer = Trainer(model, Adam(lr=1e-2), WindowSource(x, y), validation=(x, y), batch_size=8,
                      rng=np.random.default_rng(0), patience=50, log=None)
    trainer.fit(3)
    path = tmp_path / "model.npz"
    save_model_file(path, model, {"genre_names": ["a", "b", "c"]}, trainer.state_dict())
    return model, trainer, path, x


def test_round_trip(trained):
    model, trainer, path, x = trained
    loaded, meta, state = load_model_file(path)
    assert meta == {"genre_names": ["a", "b", "c"]}
    for k, v in model.parameters().items():
        np.testing.assert_array_equal(loaded.parameters()[k], v)
    np.testing.assert_array_equal(loaded.input_scale, model.input_scale)
    np.testing.assert_array_equal(loaded.predict_proba(x), model.predict_proba(x))
    assert state["epoch"] == 3 and state["optimizer"]["t"] == trainer.optimizer.t
    np.testing.assert_array_equal(state["optimizer"]["m/encoder.0.W"], trainer.optimizer.m["encoder.0.W"])
    assert state["rng"] == trainer.rng.bit_generator.state
    assert state["best_params"] is not None


def test_save_is_atomic(trained, monkeypatch):
    model, _, path, _ = trained
    before = path.read_bytes()

    def boom(*a, **k):
        raise OSError("disk full")
    monkeypatch.setattr(np, "savez", boom)
    with pytest.raises(OSError, match="disk full"):
        save_model_file(path, model)
    assert path.read_bytes() == before
    assert [p.name for p in path.parent.iterdir()] == ["model.npz"]  # no temp file left


def test_truncated_file(trained):
    _, _, path, _ = trained
    path.write_bytes(path.read_bytes()[:300])
    with pytest.raises(ModelFileError, match=r"model.npz: not a readable model file"):
        load_model_file(path)


def test_corrupted_bytes(trained):
    _, _, path, _ = trained
    raw = bytearray(path.read_bytes())
    raw[40:2000] = b"\x00" * 1960
    path.write_bytes(bytes(raw))
    with pytest.raises(ModelFileError, match="model.npz"):
        load_model_file(path)


def test_a_zip_version_no_reader_knows_is_named(trained):
    # Found by the nightly property run: a central-directory entry that declares zip
    # version 6.4 made zipfile raise NotImplementedError through load_model_file.
    _, _, path, _ = trained
    raw = bytearray(path.read_bytes())
    entry = raw.index(b"PK\x01\x02")
    raw[entry + 6:entry + 8] = (64).to_bytes(2, "little")  # "version needed to extract"
    path.write_bytes(bytes(raw))
    with pytest.raises(ModelFileError, match=r"model.npz: not a readable model file.*6\.4"):
        load_model_file(path)


def _rewrite(path, change):
    with np.load(path, allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files}
    change(arrays)
    np.savez(path, **arrays)


def test_pickle_bearing_file_is_refused(trained, tmp_path):
    _, _, path, _ = trained
    _rewrite(path, lambda a: a.update({"param/encoder.0.W": np.array([{"evil": 1}], dtype=object)}))
    with pytest.raises(ModelFileError, match="pickled Python objects"):
        load_model_file(path)
    # A raw pickle renamed to .npz is not a model file either.
    fake = tmp_path / "fake.npz"
    fake.write_bytes(pickle.dumps({"weights": [1, 2, 3]}))
    with pytest.raises(ModelFileError, match="fake.npz"):
        load_model_file(fake)


@pytest.mark.parametrize("change, message", [
    (lambda a: a.update({"param/encoder.0.W": np.zeros((3, 3), np.float32)}),
     r"param/encoder.0.W has shape \(3, 3\), expected \(10, 8\)"),
    (lambda a: a.pop("param/decoder.0.b"), r"missing: \['decoder.0.b'\]"),
    (lambda a: a.update({"param/extra.W": np.zeros(2, np.float32)}), r"unexpected: \['extra.W'\]"),
    (lambda a: a.update({"format_version": np.array(99)}), "format version 99"),
    (lambda a: a.pop("format"), "not a numpy_sae model file"),
    (lambda a: a.update({"input_scale": np.full(10, np.nan, np.float32)}), "input_scale contains NaN"),
    (lambda a: a.update({"record": np.array("{not json")}), "settings record"),
    (lambda a: a.update({"record": np.array(json.dumps({"model": {"input_dim": -1}}))}),
     "stored architecture is invalid"),
    (lambda a: a.update({"param/encoder.0.b": np.zeros(8, np.float64)}), "dtype float64"),
])
def test_tampered_files_name_the_problem(trained, change, message):
    _, _, path, _ = trained
    _rewrite(path, change)
    with pytest.raises(ModelFileError, match=message):
        load_model_file(path)


def test_missing_file(tmp_path):
    with pytest.raises(ModelFileError, match="model file not found"):
        load_model_file(tmp_path / "nope.npz")


def test_not_a_zip(tmp_path):
    path = tmp_path / "m.npz"
    path.write_text("hello")
    with pytest.raises(ModelFileError, match="m.npz"):
        load_model_file(path)
    assert not zipfile.is_zipfile(path)


