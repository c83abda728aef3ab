"""The classroom material: the walkthrough's numbers and the gradient check that fails on purpose."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from numpy_sae.teaching.gradcheck_demo import BUGS, gradcheck_table, run_gradcheck_demo

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def test_walkthrough_numbers_agree(capsys):
    import runpy
    result = runpy.run_path(str(EXAMPLES / "backprop_walkthrough.py"))  # every cell in turn
    text = capsys.readouterr().out
    assert "THE CODE LAYER" in text and "ONE ADAM STEP" in text
    assert result["loss"] == pytest.approx(result["total"], rel=1e-15)
    for name, grad in result["grads"].items():
        np.testing.assert_array_equal(result["by_hand"][name], grad)  # the lecture is the library
        assert result["errors"][name] < 1e-7
    # The first Adam step is lr * g / (|g| + eps): about lr against the sign of g.
    for name, before in result["before"].items():
        g = result["grads"][name]
        step = result["params"][name] - before
        np.testing.assert_allclose(step, -0.01 * g / (np.abs(g) + 1e-8), rtol=1e-9, atol=1e-15)
    assert result["new_loss"] < result["loss"]
    # The pooling cell: the mean's share is 1/T per frame, the std's follows the deviations.
    assert "POOLING OVER TIME" in text
    np.testing.assert_allclose(result["dframes"][0, :, 0], 1 / 3)
    np.testing.assert_allclose(result["dframes"], result["pool_numeric"], rtol=1e-7, atol=1e-10)
    # The graph cell: the drawn gradients are the library's, the code's is the sum of two.
    nodes = result["graph_nodes"]
    np.testing.assert_allclose(nodes["W_enc"].grad, result["grads"]["encoder.0.W"])
    np.testing.assert_allclose(nodes["code"].grad, result["dcode"])
    assert "decoder's" in nodes["code"].note and "classifier's" in nodes["code"].note
    boxes = [t for t in result["graph_figure"].axes[0].texts if t.get_bbox_patch() is not None]
    assert len(boxes) == len(nodes)
    # The spectrogram cell: two dense rows per bin, energy and log are rfft's log power.
    assert "THE SPECTROGRAM AS A LAYER" in text
    np.testing.assert_allclose(result["log_energy"], result["by_fft"], atol=1e-9)
    np.testing.assert_allclose(result["dW_fft"], result["fb_numeric"], rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("script", ["backprop_walkthrough", "lecture_training_dynamics"])
def test_lectures_are_cells(script):
    source = (EXAMPLES / f"{script}.py").read_text()
    assert source.count("\n# %%") >= 4


def test_correct_model_passes_every_tensor():
    report, bound, table = gradcheck_table("small", gamma=0.9)
    assert bound == 1e-6 and "FAIL" not in table
    assert max(r["max_rel_error"] for r in report.values()) < 1e-6


@pytest.mark.parametrize("bug, flagged", [
    ("tanh-derivative", {"encoder.0.W", "decoder.0.W", "classifier.0.W"}),
    ("code-sum", {f"encoder.{i}.{p}" for i in (0, 2, 4) for p in "Wb"}),
    ("batch-mean", {"classifier.2.W", "classifier.0.W", "encoder.0.W"}),
    ("bias-sum", {"encoder.0.b", "decoder.4.b", "classifier.2.b"}),
])
def test_every_broken_variant_is_caught(bug, flagged):
    report, bound, table = gradcheck_table("small", gamma=0.9, bug=bug)
    failing = {k for k, r in report.items() if r["max_rel_error"] >= bound}
    assert flagged <= failing
    if bug == "code-sum":
        # Only the encoder is wrong: the heads still get their own gradients right.
        assert failing == flagged
    if bug == "bias-sum":
        assert not any(k.endswith(".W") for k in failing)
    # The patch is undone afterwards: the same check passes again.
    assert max(r["max_rel_error"] for r in gradcheck_table("small")[0].values()) < 1e-6


def test_float32_check_fails_where_float64_passes():
    lines = []
    assert run_gradcheck_demo(dtype="float32", out=lines.append) == 1
    assert "Check in float64" in lines[-1]
    assert run_gradcheck_demo(dtype="float64", out=lines.append) == 0


def test_study_sized_check_runs_sampled():
    report, bound, _ = gradcheck_table("study", entries=2)
    assert report["encoder.0.W"]["shape"] == (500, 256) and report["encoder.0.W"]["checked"] == 2
    assert max(r["max_rel_error"] for r in report.values()) < bound


def test_gradient_check_example_runs_as_a_script():
    done = subprocess.run([sys.executable, str(EXAMPLES / "gradient_check.py"), "--break",
                           "code-sum"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert "FAIL" in done.stdout and "encoder.0.W" in done.stdout.splitlines()[-1]
    assert set(BUGS) == {"tanh-derivative", "code-sum", "batch-mean", "bias-sum"}


@pytest.mark.parametrize("script", ["backprop_walkthrough", "lecture_training_dynamics"])
def test_shipped_notebooks_are_the_scripts_and_run_in_order(script, tmp_path, monkeypatch):
    import json

    from numpy_sae.notebooks import notebook_json
    source = (EXAMPLES / f"{script}.py").read_text()
    shipped = (EXAMPLES / "notebooks" / f"{script}.ipynb").read_text()
    assert shipped == notebook_json(source), "run python examples/make_notebooks.py"
    cells = [c for c in json.loads(shipped)["cells"] if c["cell_type"] == "code"]
    assert len(cells) >= 5
    monkeypatch.chdir(tmp_path)  # the lecture writes its figures to ./training_dynamics
    namespace = {"__name__": "__main__"}
    for cell in cells:  # one kernel: every cell in order, in one namespace
        code = "".join(cell["source"]).replace("EPOCHS = 15", "EPOCHS = 1")  # a short lecture
        exec(compile(code, f"{script}.ipynb", "exec"), namespace)
    if script == "lecture_training_dynamics":
        assert (tmp_path / "training_dynamics" / "variants.png").exists()
    else:
        assert namespace["new_loss"] < namespace["loss"]
