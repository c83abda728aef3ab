"""Write docs/cli.md, the command-line reference, from the parser itself.

    python examples/make_cli_reference.py

Run it after changing an option; a test fails while the reference misses a command or an
option.
"""

import argparse
from pathlib import Path

from numpy_sae.commands.cli import build_parser

TARGET = Path(__file__).resolve().parents[1] / "docs" / "cli.md"
INTRO = """# The command line

`numpy-sae COMMAND ...` (also `python -m numpy_sae COMMAND ...`). Every command ends a
mistake (a bad value, a missing folder, a damaged model file, an unreadable song) with one
line on stderr and a non-zero exit status: 1 for a failure, 2 for a usage error, 130 when
interrupted (`train` then saves its state and prints the `--resume` command); `--debug`
before the command shows the traceback instead. `numpy-sae COMMAND --help` prints the
same options. This page is written from the parser by `examples/make_cli_reference.py`.
"""


def option_rows(parser, name):
    """(flag, text) for every option of one subcommand, as the table shows them."""
    rows = []
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction) or action.help == argparse.SUPPRESS:
            continue
        if isinstance(action, argparse._SubParsersAction):
            rows.append(("`ACTION`", "one of " + ", ".join(f"`{c}`" for c in action.choices)
                         + f" (see `numpy-sae {name} ACTION --help`)"))
            continue
        flag = (", ".join(f"`{o}`" for o in action.option_strings) if action.option_strings
                else f"`{action.metavar or action.dest}`")
        text = (action.help or "").replace("|", "\\|")
        if action.choices and "one of" not in text:
            text += " (" + ", ".join(map(str, action.choices)) + ")"
        rows.append((flag, text))
    return rows


def reference():
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    helps = {a.dest: a.help for a in sub._choices_actions}
    out = [INTRO]
    for name, command in sub.choices.items():
        out += [f"## `{name}`", "", (helps.get(name) or "").rstrip(".").capitalize() + ".", ""]
        if command.description:
            out += [command.description, ""]
        out += ["| option | what it does |", "|---|---|"]
        out += [f"| {flag} | {text} |" for flag, text in option_rows(command, name)] + [""]
    return "\n".join(out)


if __name__ == "__main__":
    TARGET.write_text(reference())
    print(f"wrote {TARGET}")
