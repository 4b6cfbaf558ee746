"""A rich progress line while a report renders (its figures take seconds), on stderr and
only when stderr is a terminal, so pipes, logs and tests see nothing of it."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def rendering(what: str, *, show: bool | None = None) -> Iterator[None]:
    """Show "rendering WHAT" with a spinner and the elapsed time while the body runs.

    Args:
        what: what is being written, e.g. ``"out/bench/bench.html"``.
        show: force on or off; default: when stderr is a terminal.
    """
    if show is None:
        show = sys.stderr.isatty()
    if not show:
        yield
        return
    from rich.console import Console
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    with Progress(
        SpinnerColumn(),
        TextColumn("[bold]rendering[/] {task.description} (figures)"),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
    ) as bar:
        bar.add_task(what, total=None)
        yield


__all__ = ["rendering"]
