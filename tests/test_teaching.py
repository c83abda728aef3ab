"""The classroom material: the walkthrough's numbers and the gradient check that fails on purpose."""

import re
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
    assert "dcode (decoder) + dcode (classifier): the two heads add" in text
    assert "-0.0000" not in text  # a rounded tiny negative number prints as 0.0000
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
    assert "dmu / T + ds * (code_t - mu) / (T s)" in text
    np.testing.assert_allclose(result["dframes"][0, :, 0], 1 / 3)
    np.testing.assert_allclose(result["dframes"], result["pool_numeric"], rtol=1e-7, atol=1e-10)
    # The graph cell: the drawn gradients are the library's, the code's is the sum of two.
    nodes = result["graph_nodes"]
    np.testing.assert_allclose(nodes["encoder.0.W"].grad, result["grads"]["encoder.0.W"])
    np.testing.assert_allclose(nodes["code"].grad, result["dcode"])
    assert "decoder's" in nodes["code"].note and "classifier's" in nodes["code"].note
    figure = result["graph_figure"]
    boxes = [t for t in figure.axes[0].texts if t.get_bbox_patch() is not None]
    assert len(boxes) == len(nodes)
    # T5-24: at a notebook's width (about 900 px) its text was 5 px high. Now 9 pt text in
    # a figure about 1000 px wide, no two boxes overlapping, each inside the figure.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    canvas = FigureCanvasAgg(figure)
    canvas.draw()  # the boxes take their sizes when drawn
    renderer = canvas.get_renderer()
    extents = [b.get_bbox_patch().get_window_extent(renderer) for b in boxes]
    width = figure.get_size_inches()[0] * figure.dpi
    assert min(b.get_fontsize() for b in boxes) * figure.dpi / 72 * min(1, 900 / width) >= 10
    assert all(not e.overlaps(f) for i, e in enumerate(extents) for f in extents[i + 1:])
    assert all(figure.bbox.contains(e.x0, e.y0) and figure.bbox.contains(e.x1, e.y1)
               for e in extents)
    # The spectrogram cell: two dense rows per bin, energy and log are rfft's log power.
    assert "log |X_k|^2 by the layer" in text
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
def test_shipped_notebooks_are_the_scripts(script):
    import json

    from numpy_sae.notebooks import notebook_json
    source = (EXAMPLES / f"{script}.py").read_text()
    cells = json.loads((EXAMPLES / "notebooks" / f"{script}.ipynb").read_text())["cells"]
    expected = json.loads(notebook_json(source))["cells"]
    # The cells must be the script's; outputs are not compared (an instructor may run and
    # save a notebook, and the shipped ones are executed so that they show their figures).
    assert [(c["id"], c["cell_type"], c["source"]) for c in cells] == \
        [(c["id"], c["cell_type"], c["source"]) for c in expected], \
        "run python examples/make_notebooks.py --execute"
    assert all(cell["id"] for cell in cells)
    assert "pip" in "".join(cells[1]["source"])  # the install cell comes first
    prose = [c for c in cells if c["cell_type"] == "markdown"]
    assert len(prose) >= 5 and any("$" in "".join(c["source"]) for c in prose)  # equations
    figures = [o for c in cells if c["cell_type"] == "code" for o in c.get("outputs", [])
               if "image/png" in o.get("data", {})]
    assert figures, "the shipped notebook shows its figures: make_notebooks.py --execute"


def test_notebooks_run_in_a_real_kernel_and_show_their_figures(executed_notebooks):
    # Executed by conftest.py with nbclient in a python3 (ipykernel) kernel, in parallel.
    for name, summary in executed_notebooks.items():
        assert summary["error"] is None or name == "student.ipynb", (name, summary["error"])
    walkthrough = executed_notebooks["backprop_walkthrough.ipynb"]
    assert walkthrough["images"] >= 1  # the computational graph, inline
    lecture = executed_notebooks["lecture_training_dynamics.ipynb"]
    assert lecture["images"] == 4
    # The naive row is chaotic: another CPU's kernels change its digits (0.583 on AVX2,
    # 0.688 on AVX-512), so what is checked is what holds on every CPU: which networks
    # learn, which stays at chance, which saturates, and where the gradient vanishes.
    text = lecture["text"]
    accuracy = {label: float(words[-1])
                for label, words in _table(text, "training accuracy").items()}
    assert set(accuracy) == set(VARIANTS), accuracy
    assert accuracy["tanh, Glorot"] > 0.8 and accuracy["ReLU, He"] > 0.8, accuracy
    assert accuracy["sigmoid, Glorot"] < 0.6, accuracy  # two genres: chance is 0.5
    assert accuracy["tanh, naive N(0, 1)"] < accuracy["tanh, Glorot"], accuracy
    # Columns: gradient norms of encoder.0.W and classifier.2.W, then their update sizes.
    gradients = {label: [float(w) for w in words]
                 for label, words in _table(text, "grad encoder.0.W").items()}
    # Sigmoid's first-layer gradient is at least 100x smaller than tanh's; naive weights
    # make the first layer's updates at least 10x larger than Glorot's.
    assert gradients["sigmoid, Glorot"][0] * 100 < gradients["tanh, Glorot"][0], gradients
    assert gradients["tanh, naive N(0, 1)"][2] > 10 * gradients["tanh, Glorot"][2], gradients
    saturation = {label: float(words[words.index("encoder.0") + 1])
                  for label, words in _table(text, "saturation encoder.0", inclusive=True).items()
                  if words[0] == "saturation"}
    assert saturation["tanh, naive N(0, 1)"] > 0.9 > 0.3 > saturation["tanh, Glorot"], saturation
    assert "restart the kernel" not in text
    key = executed_notebooks["key.ipynb"]
    assert key["images"] == 3  # the graph, the overfitting curve, the optimizers compared
    assert len(re.findall(r"\d+ of \d+ functions? correct", key["text"])) == 13
    assert "right: gradients agree with centered differences" in key["text"]
    assert "of 2 functions correct" in key["text"] and " 0 of " not in key["text"]
    # The tiny batch is overfitted: the loss starts untrained (about 5.3) and ends
    # near 0 (its digits depend on the CPU's kernels, so only the drop is checked).
    start, end = map(float, re.search(r"loss ([0-9.]+) -> ([0-9.e-]+) in 300 steps",
                                      key["text"]).groups())
    assert 4 < start < 7 and end < 0.01, (start, end)
    # The student's notebook runs top to bottom: every check says "not started", no error.
    student = executed_notebooks["student.ipynb"]
    assert student["error"] is None and not student["errors"]
    assert "not started" in student["text"] and "not yet:" in student["text"]


def test_importing_numpy_sae_leaves_the_matplotlib_backend_alone(tmp_path):
    code = ("import matplotlib; import numpy_sae.plots, numpy_sae.commands.cli; "
            "import numpy as np; from numpy_sae import plots; "
            f"plots.plot_confusion(np.eye(2), ['a', 'b'], {str(tmp_path / 'h.png')!r}); "
            "print(matplotlib.get_backend())")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**__import__("os").environ, "MPLBACKEND": "svg"}, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "svg" and (tmp_path / "h.png").exists()


VARIANTS = ("tanh, Glorot", "sigmoid, Glorot", "ReLU, He", "tanh, naive N(0, 1)")


def _table(text, header_word, inclusive=False):
    """{variant: the words after its label} of the printed table whose first line holds
    ``header_word`` (that line is a header, or with ``inclusive`` the first row)."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if header_word in line)
    table = {}
    for line in lines[start if inclusive else start + 1:]:
        label = next((v for v in VARIANTS if line.startswith(v + " ")), None)
        if label is None or label in table:  # the table ends, or the next one begins
            break
        table[label] = line[len(label):].split()
    return table
