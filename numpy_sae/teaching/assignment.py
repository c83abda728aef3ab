"""The notebook assignment: the exercises as a notebook a class works through.

Generated from the same source as ``backprop.py`` (:func:`exercises.student_source`'s
functions), so the two never disagree. Each function is a code cell tagged
``exercise``, preceded by its equation and followed, once its pair is complete,
by a cell that runs the grader's own check for it on the spot (:func:`check`);
inline questions carry the instructor's answer only in the key. The end of the
notebook overfits a tiny batch with the student's functions and compares SGD,
momentum and Adam on it, with the curves drawn inline. The grader and the
Gradescope bundle read the definitions of every code cell back as one Python file
(:func:`notebook_program`).
"""

import ast
import json

import numpy as np

from ..nn.gradcheck import numerical_gradient, relative_error
from ..notebooks import install_cell, notebook_from_cells
from . import exercises

NOTEBOOK_NAME = "backprop.ipynb"
TAG = "exercise"

# The equation of each function, in LaTeX, shown above its cell.
EQUATIONS = {
    "dense_forward": r"\mathrm{out} = xW + b", "dense_backward":
    r"dx = \mathrm{dout}\,W^\top,\quad dW = x^\top \mathrm{dout},\quad db = \sum_n "
    r"\mathrm{dout}_n",
    "tanh_forward": r"\mathrm{out} = \tanh(x)",
    "tanh_backward": r"dx = \mathrm{dout} \odot (1 - \mathrm{out}^2)",
    "sigmoid_forward": r"\sigma(x) = \frac{1}{1 + e^{-x}} = \frac{1 + \tanh(x/2)}{2}",
    "sigmoid_backward": r"dx = \mathrm{dout} \odot \sigma(x)\,(1 - \sigma(x))",
    "relu_forward": r"\mathrm{out} = \max(0, x)",
    "relu_backward": r"dx = \mathrm{dout} \odot [x > 0]",
    "softmax_forward": r"p_i = \frac{e^{z_i - \max_j z_j}}{\sum_k e^{z_k - \max_j z_j}}",
    "softmax_backward": r"dz_j = p_j \big(\mathrm{dout}_j - \sum_i \mathrm{dout}_i p_i\big)",
    "softmax_cross_entropy": r"L = -\frac{1}{N}\sum_n \log \mathrm{softmax}(z_n)_{y_n},\quad "
                             r"\frac{\partial L}{\partial z} = \frac{p - \mathrm{onehot}(y)}{N}",
    "sum_squared_error": r"L = \frac{1}{N}\sum_n \lVert \hat x_n - x_n \rVert^2,\quad "
                         r"\frac{\partial L}{\partial \hat x} = \frac{2(\hat x - x)}{N}",
    "joint_loss": r"L = \gamma L_{rec} + (1 - \gamma) L_{ce}",
    "fanout_backward": r"dx = \mathrm{dout}_a + \mathrm{dout}_b",
    "meanstd_pool_forward": r"\mu = \frac{1}{T}\sum_t x_t,\quad s = \sqrt{\frac{1}{T}\sum_t "
                            r"(x_t - \mu)^2 + \epsilon}",
    "meanstd_pool_backward": r"dx_t = \frac{d\mu}{T} + ds\,\frac{x_t - \mu}{T s}",
    "filterbank_forward": r"y = xW^\top,\quad e_k = y_k^2 + y_{K+k}^2,\quad c = \log(e + "
                          r"\epsilon)",
    "filterbank_backward": r"de = \frac{\mathrm{dout}}{e + \epsilon},\quad dy = 2y\odot[de, de]"
                           r",\quad dW = dy^\top x,\quad dx = dy\,W",
    "adam_step": r"m \leftarrow \beta_1 m + (1-\beta_1) g,\ v \leftarrow \beta_2 v + (1-\beta_2)"
                 r" g^2,\ p \leftarrow p - \eta\,\frac{m/(1-\beta_1^t)}{\sqrt{v/(1-\beta_2^t)}"
                 r" + \epsilon}",
    # e, d, c: encoder.0, decoder.0, classifier.0 (the keys of params, named in the
    # docstring); both terms are batch means, as sum_squared_error and softmax_cross_entropy.
    "joint_network_loss": r"\begin{aligned}\mathrm{code} &= \tanh(xW_e + b_e),\quad "
                          r"\hat x = \mathrm{code}\,W_d + b_d,\quad z = \mathrm{code}\,W_c + b_c"
                          r"\\ L &= \gamma\,\frac{1}{N}\sum_n \lVert \hat x_n - x_n \rVert^2 + "
                          r"(1-\gamma)\,\frac{1}{N}\sum_n -\log \mathrm{softmax}(z_n)_{y_n}"
                          r"\end{aligned}",
}
# What the letters of an equation stand for, under it.
EQUATION_LEGENDS = {
    "joint_network_loss": "$W_e, b_e$ are `params[\"encoder.0.W\"]`, `params[\"encoder.0.b\"]`; "
                          "$d$ is `decoder.0`, $c$ `classifier.0`. Both terms are batch means, "
                          "as in `sum_squared_error` and `softmax_cross_entropy`.",
}
# The derive level's note above a gradient cell, in LaTeX like the others: the forward it
# differentiates, then what to derive (exercises.DERIVE_NOTES is the docstrings' plain text).
DERIVE_EQUATIONS = {
    "dense_backward": (EQUATIONS["dense_forward"], "Derive $dx$, $dW$ and $db$."),
    "tanh_backward": (EQUATIONS["tanh_forward"],
                      r"Derive $dx$, using only the cached $\mathrm{out}$."),
    "sigmoid_backward": (r"\mathrm{out} = \frac{1}{1 + e^{-x}}",
                         r"Derive $dx$, using only $\mathrm{out}$."),
    "relu_backward": (EQUATIONS["relu_forward"], "Derive $dx$."),
    "softmax_backward": (r"p = \mathrm{softmax}(z)\ \text{(per row)}",
                         r"Derive $dz$ from $\mathrm{dout}$ and $p$."),
    "softmax_cross_entropy": (r"L = -\frac{1}{N}\sum_n \log \mathrm{softmax}(z_n)_{y_n}",
                              r"Finite for logits of $\pm 1000$. Derive $\partial L/\partial z$."),
    "sum_squared_error": (r"L = \frac{1}{N}\sum_n \lVert \hat x_n - x_n \rVert^2",
                          r"Derive $\partial L/\partial \hat x$."),
    "joint_loss": (EQUATIONS["joint_loss"], "Derive how each gradient changes."),
    "fanout_backward": (r"a = x,\quad b = x",
                        r"The same $x$ goes to branch $a$ and branch $b$. Derive $dx$ from "
                        r"$\mathrm{dout}_a$ and $\mathrm{dout}_b$."),
    "meanstd_pool_backward": (EQUATIONS["meanstd_pool_forward"], "Derive $dx_t$."),
    "filterbank_backward": (EQUATIONS["filterbank_forward"],
                            r"Derive $dW$ and $dx$ from $\mathrm{dout} = \partial L/\partial c$."),
}
# Inline questions after a unit: (unit, question, the key's answer).
QUESTIONS = (
    ("dense", "Why is `db` a sum over the batch, and not a mean, when the loss is already a "
     "mean over the batch?",
     "The loss's 1/N is already inside `dout` (the loss functions divide by N). b is added "
     "to every row, so by the chain rule its gradient is the sum of the rows' gradients; "
     "averaging again would divide by N twice."),
    ("tanh", "`tanh_backward` gets only the forward's output, not its input. Why is that "
     "enough, and what does it save?",
     "tanh'(x) = 1 - tanh(x)^2 is a function of the output alone, so the input need not be "
     "kept: one (N, D) array less in memory per layer, and no second tanh."),
    ("softmax_cross_entropy", "Logits of +-1000 are finite, yet `np.log(softmax(z))` returns "
     "-inf for them. Why, and how does log-sum-exp avoid it?",
     "exp(-2000) underflows to 0 in floating point, so the probability is exactly 0 and its "
     "log is -inf. log softmax(z)_i = (z_i - max z) - log sum_j exp(z_j - max z) never takes "
     "the log of a number below 1: the sum includes exp(0) = 1."),
    ("fanout", "The code feeds the decoder and the classifier. What goes wrong in training if "
     "`fanout_backward` returns only the decoder's gradient?",
     "The encoder then learns from the reconstruction alone: the classifier's head still "
     "trains, but the code is never shaped to separate the genres (gradient checks of the "
     "encoder fail; the whole-network check names it)."),
    ("meanstd_pool", "In `meanstd_pool_backward`, the path from s back through mu adds nothing."
     " Why?",
     "ds/dmu is proportional to sum_t (x_t - mu), which is 0 by the definition of mu: the "
     "deviations sum to zero, so moving mu does not change s to first order."),
    ("adam", "Adam's first step moves every parameter by about lr, whatever the size of its "
     "gradient. Show it from the update, and say when that is a problem.",
     "At t = 1, m_hat = g and v_hat = g^2, so the step is lr * g / (|g| + eps), about lr * "
     "sign(g). Parameters whose gradient is tiny or noise move as far as important ones: "
     "with a large lr the first steps can wreck a good initialization."),
)

_INTRO = """# Backpropagation, by hand: the softmax autoencoder's math

You will write the forward and backward pass of every piece of the network from the
study (a dense layer, tanh, softmax and cross-entropy, the squared error, the joint loss
and its fan-out at the code, mean/std pooling, a filterbank, one Adam step), then the whole
one-layer network's gradients, in NumPy only.

**How to work.** Run the set-up cells, then go down the notebook. Each function is a cell
that raises `NotImplementedError`: replace that line with your code, run the cell, then run
the check cell under the pair. The check is the grader's own: it compares your forward with
the library's and your gradients with centered differences of *your* forward, and says
what is wrong (a shape, a factor of N, an input changed in place). `print()` inside your
functions shows under the check.

**Rules.** NumPy only (calling numpy_sae's own functions is refused by the grader); never
change an input array in place, except that `adam_step` updates `p`, `m` and `v` in place;
keep what a backward needs in its cache, not in a global; return arrays of your inputs'
dtype (the checks run in float64, training in float32). Answer the inline questions in the markdown cells marked *Your answer*.

**Submitting.** Submit this notebook (`backprop.ipynb`) as it is. The autograder reads the
definitions of every code cell, as the kernel runs them top to bottom: an answer may go
in a new cell below its stub, and a helper in a cell of its own; test lines and prints
are left out. To grade it yourself: `numpy-sae exercises check FOLDER`.
"""

_SETUP = """import matplotlib.pyplot as plt
import numpy as np

from numpy_sae.teaching.assignment import check, compare_optimizers, overfit_tiny_batch

np.set_printoptions(precision=4, suppress=True)"""

_GRAPH = """## The graph you are about to write

One forward and backward pass of a small model like yours (its classifier has one tanh
layer more), every node with its value and its gradient (first example). At the code the
decoder's and the classifier's gradients add: in `joint_network_loss` that is
`fanout_backward`. Read the graph from the loss back to `x` as you write the backward
half."""

_GRAPH_CODE = """from numpy_sae.nn.model import SoftmaxAutoencoderNetwork
from numpy_sae.teaching.graph import joint_graph, plot_graph

small = SoftmaxAutoencoderNetwork(input_dim=4, n_classes=2, code_dim=3, encoder_hidden=(),
                                  classifier_hidden=2, gamma=0.9, dtype=np.float64, seed=7)
graph_x = np.array([[0.5, -1.0, 0.3, 0.8], [-0.2, 0.4, 1.0, -0.6]])
plot_graph(*joint_graph(small, graph_x, np.array([0, 1])))"""

_SANITY = """## Sanity check: overfit a tiny batch

A network that is right can drive the loss of five examples close to zero. This trains the
one-layer softmax autoencoder of `joint_network_loss` on five examples with *your*
`joint_network_loss` and *your* `adam_step`, and draws the loss per step. It first compares
your loss's gradients with centered differences of the loss itself on the same five
examples: a falling curve alone proves little, since a network also trains with a wrong
tanh derivative or a gradient averaged where it should be summed. It then says whether the
loss got near zero (a right `adam_step` reaches below 0.01; without its bias correction the
loss stays near 0.06)."""

_COMPARE = """## Optimizers compared: SGD, momentum, Adam

The same tiny problem, three update rules from the same start (SGD and momentum from
`numpy_sae.nn.optim`, Adam with your `adam_step`), each at a learning rate that suits it.
Which falls fastest in the first steps, and why? (Look at the size of Adam's first steps.)"""
# The key's answer to that question: the ordering, which holds on every machine
# (tests/test_exercises.py checks it with the library's functions), not the digits.
_COMPARE_ANSWER = (
    "Over the first two or three steps SGD and Adam fall about alike, and momentum is the "
    "slowest: its velocity starts at zero and takes about 1/(1 - 0.9) = 10 steps to build. "
    "From about step 5 Adam is the lowest and it ends far below both: its first steps move "
    "every parameter by about lr (m_hat / sqrt(v_hat) is about sign(g) at t = 1), so "
    "parameters with small gradients move as far as the others, where SGD moves each by "
    "lr * g and the small ones barely change.")


def _cells_of_unit(unit):
    return [name for _, name in exercises.GRADED if exercises.unit_of(name) == unit]


def assignment_cells(solutions=False, level="guided", install_from=None):
    """The notebook as (kind, text, tags) triples; ``install_from`` is where its first cell
    installs numpy_sae from (:func:`numpy_sae.notebooks.install_cell`)."""
    source = exercises.student_source(solutions=solutions, level=level)
    functions = _split_functions(source)
    cells = [("markdown", _INTRO, []), ("code", install_cell(install_from), []), ("code", _SETUP, []),
             ("markdown", "## Given: two helpers your functions may call", []),
             ("code", "\n\n\n".join(functions[name] for _, name in exercises.PROVIDED), [TAG])]
    done_units = set()
    for _, name in exercises.GRADED:
        unit = exercises.unit_of(name)
        if name == "joint_network_loss":
            cells += [("markdown", _GRAPH, []), ("code", _GRAPH_CODE, [])]
        if level == "derive" and name in exercises.DERIVE_NOTES:
            # The gradient is the student's work: the forward only, as in the docstring.
            forward, task = DERIVE_EQUATIONS[name]
            equation = f"\n\nForward: $${forward}$$\n\n{task}"
        else:
            equation = f"\n\n$${EQUATIONS[name]}$$"
            if name in EQUATION_LEGENDS:
                equation += f"\n\n{EQUATION_LEGENDS[name]}"
        cells.append(("markdown", f"### `{name}`{equation}", []))
        cells.append(("code", functions[name], [TAG]))
        members = _cells_of_unit(unit)
        if name == members[-1] and unit not in done_units:
            done_units.add(unit)
            # The semicolon keeps Jupyter from echoing check's True under the table.
            cells.append(("code", f"check({', '.join(members)});", []))
            for number, (question_unit, question, answer) in enumerate(QUESTIONS, start=1):
                if question_unit == unit:
                    reply = f"**Answer (key):** {answer}" if solutions else \
                        "**Your answer:** *write it here*"
                    cells.append(("markdown", f"**Inline question {number}.** {question}\n\n"
                                  f"{reply}", []))
    cells += [("markdown", _SANITY, []),
              ("code", "losses = overfit_tiny_batch(joint_network_loss, adam_step)\n"
                       "if losses is not None:\n"
                       "    print(f\"loss {losses[0]:.3f} -> {losses[-1]:.4f} in {len(losses)} "
                       "steps\")", []),
              ("markdown", _COMPARE, []),
              ("code", "curves = compare_optimizers(joint_network_loss, adam_step)", []),
              ("markdown", f"**Answer (key):** {_COMPARE_ANSWER}" if solutions else
               "**Your answer:** *write it here*", [])]
    return cells


def _split_functions(source):
    """{name: source text} of every top-level function of a student file."""
    tree = ast.parse(source)
    lines = source.splitlines()
    return {node.name: "\n".join(lines[node.lineno - 1:node.end_lineno])
            for node in tree.body if isinstance(node, ast.FunctionDef)}


def assignment_notebook(solutions=False, level="guided", install_from=None):
    """The text of backprop.ipynb (the key when ``solutions``); ``install_from``: where
    its first cell installs numpy_sae from in a kernel without it."""
    return notebook_from_cells(assignment_cells(solutions, level, install_from))


def notebook_to_source(text):
    """The Python file the grader imports from a notebook's text (see :func:`notebook_program`)."""
    return notebook_program(text)[0]


# Cell magics whose body is Python, run as written (the magic only times or captures it).
PYTHON_CELL_MAGICS = ("time", "timeit", "capture", "prun")


def notebook_program(text):
    """What the grader runs of a notebook, as the student's kernel would define it.

    Every code cell counts, in order, so a function written in a new cell below its stub
    replaces the stub (the last definition wins, as in the kernel). Of each cell only
    the definitions are kept: ``def`` and ``class`` statements, imports, and assignments
    of values that call nothing and name only what is already defined (``EPS = 1e-8``).
    Test lines, prints and calls to ``check`` are left out, so they cannot break
    grading. IPython magics and shell lines are dropped; a cell under a cell magic
    other than %%time, %%timeit, %%capture and %%prun is not Python and is skipped. A
    cell that does not parse is kept whole when it holds a ``def`` (its SyntaxError is
    the student's to see), else skipped.

    Returns
    -------
    source : str, the Python file (NumPy imported first)
    lines : list, for each line of ``source``, (cell number, line in that cell) counted
        from 1 over all the notebook's cells as Jupyter shows them, or None
    """
    try:
        notebook = json.loads(text)
        cells = list(enumerate(notebook["cells"], start=1))
        cells = [(number, c) for number, c in cells
                 if isinstance(c, dict) and c.get("cell_type") == "code"]
    except (ValueError, KeyError, TypeError, AttributeError, RecursionError) as exc:
        raise ValueError(f"not a Jupyter notebook ({type(exc).__name__}: {exc})") from None
    source, lines = ["import numpy as np", "", ""], [None, None, None]
    bound = {"np"}
    for number, cell in cells:
        body = cell.get("source", "")
        body = "".join(map(str, body)) if isinstance(body, list) else str(body)
        kept = _definitions(body, bound)
        if kept:
            for line_number, line in kept:
                source.append(line)
                lines.append((number, line_number))
            source += ["", ""]
            lines += [None, None]
    return "\n".join(source) + "\n", lines


def _definitions(body, bound):
    """[(line number in the cell, line)] of a cell's definitions (see
    :func:`notebook_program`); ``bound`` (the names defined so far) grows with them."""
    cell_lines = body.splitlines()
    first = next((line.strip() for line in cell_lines if line.strip()), "")
    if first.startswith("%%"):
        if first[2:].split(maxsplit=1)[0] not in PYTHON_CELL_MAGICS:
            return []  # %%bash, %%writefile, %%html...: not Python
    # A magic or shell line becomes blank, so every other line keeps its number.
    cleaned = ["" if line.lstrip().startswith(("%", "!")) else line for line in cell_lines]
    try:
        tree = ast.parse("\n".join(cleaned))
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        if "def " in body:
            return list(enumerate(cleaned, start=1))
        return []
    kept, taken = [], set()
    for node in tree.body:
        if not _is_definition(node, bound):
            continue
        bound.update(_names_bound(node))
        start = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
        others = [n for n in tree.body if n is not node
                  and n.lineno <= node.end_lineno and n.end_lineno >= start]
        if not others:
            kept += [(k, cleaned[k - 1]) for k in range(start, node.end_lineno + 1)
                     if k not in taken]
            taken.update(range(start, node.end_lineno + 1))
        else:  # shares a line with a statement left out (``a = 1; f(a)``): itself only
            segment = ast.get_source_segment("\n".join(cleaned), node) or ""
            kept += [(start + k, line) for k, line in enumerate(segment.splitlines())]
    return sorted(kept)


def _is_definition(node, bound):
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Import,
                         ast.ImportFrom)):
        return True
    if isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None:
        parts = list(ast.walk(node.value))
        return (not any(isinstance(p, (ast.Call, ast.Await, ast.Yield, ast.YieldFrom,
                                       ast.NamedExpr)) for p in parts)
                and all(p.id in bound for p in parts if isinstance(p, ast.Name)))
    return False


def _names_bound(node):
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return {node.name}
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        return {(alias.asname or alias.name).split(".")[0] for alias in node.names}
    targets = node.targets if isinstance(node, ast.Assign) else [node.target]
    return {n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)}


class _Cells:
    """A notebook's globals seen as the student module the grader expects (attribute reads
    and writes go to the notebook's own namespace, so the grader's swaps take effect)."""

    def __init__(self, namespace):
        object.__setattr__(self, "_namespace", namespace)

    def __getattr__(self, name):
        try:
            return self._namespace[name]
        except KeyError:
            raise AttributeError(name) from None

    def __setattr__(self, name, value):
        self._namespace[name] = value


def check(*functions, hints=1):
    """Check the given functions (one pair, say) with the grader's own checks and print
    their rows of the grade table, with hints up to step ``hints`` (1: the rule, 2: the
    shapes, 3: the formula) under a failed one; return True when all are correct."""
    if not functions:
        raise TypeError("check(dense_forward, dense_backward): name the functions to check")
    names = [f.__name__ for f in functions]
    student = _Cells(functions[0].__globals__)
    grades = exercises.grade(student, only=names)
    grades = [g for g in grades if g.function in names] or grades
    print(exercises.format_grades(grades, max_hint=1))
    for grade in grades:
        if not grade.passed and grade.status != "not started" and hints >= 2:
            print(f"{grade.function}:\n  " + "\n  ".join(exercises.hint(grade.function,
                                                                        hints)[1:]))
    return all(g.passed for g in grades)


def _tiny_problem(seed=0, n=5, d=6, k=4, c=3):
    rng = np.random.default_rng(seed)
    params = exercises.one_layer_params(rng, d, k, c, bias_scale=0.0, classifier_scale=0.5)
    return params, rng.standard_normal((n, d)), rng.integers(0, c, n)


def _train(loss_fn, update, steps, gamma=0.5):
    params, x, y = _tiny_problem()
    losses = []
    for t in range(1, steps + 1):
        loss, grads = loss_fn({k: v.copy() for k, v in params.items()}, x, y, gamma)
        losses.append(float(loss))
        update(params, grads, t)
    return np.array(losses)


# A right loss and Adam bring the tiny batch from 5.3 to about 0.001 in 300 steps; a
# missing bias correction leaves about 0.06 (teaching audit, round 5).
OVERFIT_TARGET = 0.01


def gradient_disagreement(joint_network_loss, gamma=0.5):
    """(worst relative error, its parameter) of the student's gradients against centered
    differences of the student's own loss, in float64 on the tiny batch."""
    params, x, y = _tiny_problem()
    _, grads = joint_network_loss({k: v.copy() for k, v in params.items()}, x, y, gamma)
    worst = (0.0, None)
    for key in params:
        perturbed = {k: v.copy() for k, v in params.items()}  # numerical_gradient moves one
        numeric = numerical_gradient(
            lambda: joint_network_loss({k: v.copy() for k, v in perturbed.items()}, x, y,
                                       gamma)[0], perturbed[key])
        error = relative_error(np.asarray(grads[key], dtype=np.float64), numeric)
        if not error <= worst[0]:
            worst = (error, key)
    return worst


def overfit_tiny_batch(joint_network_loss, adam_step, steps=300, lr=0.05, show=True):
    """Train the tiny one-layer network on five examples with the student's loss and Adam
    step; the loss per step (drawn inline when ``show``), after a float64 check of the
    loss's gradients on the same batch, and a verdict that names what a slow fall means.
    Overfitting alone misses most gradient slips (a network trains with a wrong tanh
    derivative too), so the gradients are checked first."""
    moments = {}

    def update(params, grads, t):
        for key, p in params.items():
            m, v = moments.setdefault(key, (np.zeros_like(p), np.zeros_like(p)))
            adam_step(p, grads[key], m, v, t, lr)
    try:
        error, key = gradient_disagreement(joint_network_loss)
        losses = _train(joint_network_loss, update, steps)
    except NotImplementedError as exc:
        print(f"not yet: {exc} (write joint_network_loss and adam_step first)")
        return None
    if show:
        if not error < exercises.BOUND:
            print(f"wrong: the gradient of {key} disagrees with centered differences of your "
                  f"loss (relative error {error:.1e}): a backward is wrong, though the loss "
                  "may still fall")
        elif not losses[-1] < OVERFIT_TARGET:
            print(f"wrong: the loss fell only to {losses[-1]:.4f} (a right adam_step reaches "
                  f"below {OVERFIT_TARGET}): look at adam_step (its bias correction?)")
        else:
            print(f"right: gradients agree with centered differences ({error:.1e}) and the "
                  f"loss fell to {losses[-1]:.4f}")
        _draw({"your Adam": losses}, "Overfitting five examples")
    return losses


def compare_optimizers(joint_network_loss, adam_step, steps=150, show=True):
    """The tiny problem trained by SGD, momentum (numpy_sae's) and Adam (the student's);
    {name: losses}, drawn inline when ``show``."""
    from ..nn.optim import SGD, Momentum
    curves = {}
    try:
        joint_network_loss(*_tiny_problem()[:3], 0.5)
    except NotImplementedError as exc:
        print(f"not yet: {exc} (write joint_network_loss and adam_step first)")
        return None
    for name, optimizer in (("SGD, lr 0.1", SGD(lr=0.1)),
                            ("momentum 0.9, lr 0.02", Momentum(lr=0.02, momentum=0.9))):
        curves[name] = _train(joint_network_loss,
                              lambda params, grads, t, o=optimizer: o.step(params, grads), steps)
    adam = overfit_tiny_batch(joint_network_loss, adam_step, steps, show=False)
    if adam is None:
        return None
    curves["Adam (yours), lr 0.05"] = adam
    if show:
        _draw(curves, "Three update rules on the same problem")
    return curves


def _draw(curves, title):
    """Loss curves on a log scale, shown inline in a notebook (pyplot's current backend)."""
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6, 3.5))
    for name, losses in curves.items():
        ax.plot(np.arange(1, len(losses) + 1), losses, label=name)
    ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("joint loss")
    ax.set_title(title)
    ax.legend()
    fig.tight_layout()
    plt.show()

