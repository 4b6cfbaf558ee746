"""Every command's ``--help`` shows examples, and every example is a valid command line."""

from __future__ import annotations

import argparse
import shlex

import pytest

from simcontinuum.cli import build_parser


def _commands(
    parser: argparse.ArgumentParser, prefix: str = ""
) -> dict[str, argparse.ArgumentParser]:
    out = {}
    for action in parser._actions:  # argparse has no public walk over subparsers
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                out[f"{prefix}{name}"] = sub
                out.update(_commands(sub, f"{prefix}{name} "))
    return out


COMMANDS = _commands(build_parser())


def _examples(epilog: str) -> list[str]:
    text = epilog.split("examples:", 1)[1]
    lines, joined = [], ""
    for raw in text.splitlines():
        line = raw.split("  #")[0].rstrip()
        if not line.strip():
            if joined:
                lines.append(joined)
                joined = ""
            continue
        if joined or line.strip().startswith("simcontinuum "):
            joined += " " + line.strip().rstrip("\\").strip()
            if not line.endswith("\\"):
                lines.append(joined.strip())
                joined = ""
    return lines


def _command_lines(example: str) -> list[list[str]]:
    """The simcontinuum argv of each command in a shell line (``a && b``, ``a | b``, ``a >
    file``): shell operators split commands, redirections are dropped."""
    tokens = shlex.shlex(example, posix=True, punctuation_chars=True)
    tokens.whitespace_split = True
    out: list[list[str]] = [[]]
    skip = False
    for tok in tokens:
        if tok in ("&&", "||", "|", ";"):
            out.append([])
        elif tok in (">", ">>", "<", "2>", "&>"):
            skip = True
        elif skip:
            skip = False
        else:
            out[-1].append(tok)
    return [argv[1:] for argv in out if argv and argv[0] == "simcontinuum"]


def test_every_command_is_found() -> None:
    assert {"run", "validate", "policies", "bench", "generate", "mlsysops check"} <= set(COMMANDS)


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_examples_parse(name: str) -> None:
    epilog = COMMANDS[name].epilog or ""
    assert "examples:" in epilog, f"'simcontinuum {name} --help' shows no examples"
    examples = [e for e in _examples(epilog) if "..." not in e]
    assert examples, f"'simcontinuum {name} --help' has no runnable example"
    parser = build_parser()
    for argv in (a for e in examples for a in _command_lines(e)):
        try:
            parser.parse_args(argv)
        except SystemExit as exc:  # argparse exits on a bad command line
            pytest.fail(f"example of '{name}' does not parse ({exc.code}): {shlex.join(argv)}")
