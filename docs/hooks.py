"""MkDocs hooks of the documentation site.

- ``on_config``: a "Topics" section lists the topic pages that exist in ``docs/`` (written by
  other parts of the project: architecture, protocol, security, ...), so a missing one never
  breaks the build and a new one is never orphaned.
- ``on_page_markdown``: ``<!-- cli: run -->`` becomes the output of ``simcontinuum run
  --help``, so the CLI reference is the parser itself.
"""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path
from typing import Any

TOPICS = (
    ("architecture.md", "Architecture"),
    ("protocol.md", "The policy protocol"),
    ("security.md", "Security and isolation"),
    ("mlsysops.md", "MLSysOps compatibility"),
    ("kubernetes.md", "Kubernetes and Karmada"),
    ("observability.md", "Observability"),
    ("competition.md", "Competitions"),
)


def _listed(nav: Any) -> set[str]:
    found: set[str] = set()
    for item in nav or []:
        if isinstance(item, str):
            found.add(item)
        elif isinstance(item, dict):
            for value in item.values():
                found |= _listed(value) if isinstance(value, list) else {value}
    return found


def on_config(config: Any) -> Any:
    docs = Path(config["docs_dir"])
    listed = _listed(config["nav"])
    pages = [{title: name} for name, title in TOPICS if (docs / name).is_file()]
    known = {name for name, _ in TOPICS}
    for extra in sorted(docs.glob("*.md")):  # any other top-level page, by its first heading
        if extra.name in listed or extra.name in known:
            continue
        head = re.search(r"^# (.+)$", extra.read_text(encoding="utf-8"), re.M)
        pages.append({head.group(1) if head else extra.stem: extra.name})
    if pages:
        config["nav"].append({"Topics": pages})
    return config


def _help(command: str) -> str:
    from simcontinuum.cli import main

    out = io.StringIO()
    argv = [*command.split(), "--help"] if command else ["--help"]
    with contextlib.redirect_stdout(out), contextlib.suppress(SystemExit):
        main(argv)
    return out.getvalue().rstrip()


def _outside_links(markdown: str, src_path: str) -> str:
    """A link to a repository file outside ``docs/`` (``../examples/x.yaml``) has no page in
    the site: show its path as code instead of a broken link (``--strict`` would fail)."""
    depth = len(Path(src_path).parent.parts)

    def fix(m: re.Match[str]) -> str:
        text, target = m.group(1), m.group(2)
        if target.startswith(("http:", "https:", "#", "mailto:")):
            return m.group(0)
        ups = len(re.match(r"(\.\./)*", target).group(0)) // 3  # type: ignore[union-attr]
        if ups <= depth:
            return m.group(0)
        return f"{text} (`{target[3 * ups :]}` in the repository)"

    return re.sub(r"(?<!!)\[([^\]]+)\]\(([^)\s]+)\)", fix, markdown)


def on_page_markdown(markdown: str, page: Any = None, **_: Any) -> str:
    def help_block(m: re.Match[str]) -> str:
        return "```text\n" + _help(m.group(1).strip()) + "\n```"

    if page is not None:
        markdown = _outside_links(markdown, page.file.src_path)
    return re.sub(r"<!-- cli:([\w -]*)-->", help_block, markdown)
