"""The documents: every path and link they name exists, they speak to readers, and the
README is a front page with the two set-up commands."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCUMENTS = [ROOT / "README.md", ROOT / "CHANGELOG.md", ROOT / "examples" / "INSTRUCTORS.md",
             *sorted((ROOT / "docs").glob("*.md"))]
SOURCES = [*sorted((ROOT / "numpy_sae").rglob("*.py")), *sorted((ROOT / "examples").glob("*.py")),
           *sorted((ROOT / "benchmarks").glob("*.py"))]
REPOSITORY_PATH = re.compile(r"(?<![\w/.])((?:numpy_sae|examples|benchmarks|tests|docs)/[\w./-]*\w)")
LINK = re.compile(r"\]\(([^)\s]+)\)")


def _anchor(heading):
    """GitHub's anchor of a Markdown heading."""
    text = heading.strip().lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def test_the_documents_exist():
    assert (ROOT / "docs").is_dir() and len(DOCUMENTS) >= 10
    assert all(path.exists() for path in DOCUMENTS), [p for p in DOCUMENTS if not p.exists()]


@pytest.mark.parametrize("path", DOCUMENTS + SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_path_a_document_or_docstring_names_exists(path):
    text = path.read_text(encoding="utf-8")
    missing = [name for name in REPOSITORY_PATH.findall(text)
               if "*" not in name and not (ROOT / name).exists()]
    assert not missing, missing


@pytest.mark.parametrize("path", DOCUMENTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_and_anchor_resolves(path):
    text = path.read_text(encoding="utf-8")
    for target in LINK.findall(text):
        if re.match(r"[a-z]+:", target):
            continue
        file, _, anchor = target.partition("#")
        linked = (path.parent / file).resolve() if file else path
        assert linked.exists(), f"{path.name}: {target}"
        if anchor:
            headings = [line.lstrip("#") for line in linked.read_text().splitlines()
                        if line.startswith("#")]
            assert anchor in {_anchor(h) for h in headings}, f"{path.name}: {target}"


@pytest.mark.parametrize("path", DOCUMENTS + SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_documents_and_docstrings_speak_to_readers(path):
    # Words of how the work was organised mean nothing to a reader.
    text = path.read_text(encoding="utf-8")
    found = re.findall(r"\b(?:this|the last|the previous|the next|the first|earlier) plan\b"
                       r"|\bplan's\b|\bthis session\b|\bsession's\b", text, flags=re.I)
    assert not found, found


def test_the_readme_is_a_front_page():
    readme = (ROOT / "README.md").read_text()
    lines = readme.splitlines()
    assert len(lines) <= 250
    # The two set-up commands, literally (.ci/run copies the second).
    assert 'pip install -e . && python examples/train_gtzan.py' in lines
    assert 'pip install -e ".[test]" && python -m pytest' in lines
    # Within the first screen's reach: installing, the main job, classifying a song.
    first = "\n".join(lines[:120])
    assert "numpy-sae predict" in first and "load_model" in first and "MP3" in first
    # Images by links that work on an index page too: there are none.
    assert "![" not in readme


def test_the_command_reference_names_every_command_and_option():
    import argparse

    from numpy_sae.commands.cli import build_parser
    reference = (ROOT / "docs" / "cli.md").read_text()
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    for name, parser in sub.choices.items():
        assert f"## `{name}`" in reference, name
        for action in parser._actions:
            for option in action.option_strings:
                if option.startswith("--") and option != "--help" \
                        and action.help != argparse.SUPPRESS:
                    assert f"`{option}`" in reference, (name, option)
