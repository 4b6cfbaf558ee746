"""CLI: ``simcontinuum serve`` (the organizer) and ``submit``/``status``/``select`` (the
teams).

Cheap to import: the server's dependencies (Starlette, uvicorn, SQLAlchemy) are imported
inside the handlers, and their absence is one line naming the extra to install.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from simcontinuum.argtypes import add_command, add_common, positive_int

TOKEN_ENV = "SIMCONTINUUM_TOKEN"

SERVE_EXAMPLES = """\
examples:
  export SIMCONTINUUM_COMPETITION_SECRET=$(python -c 'import secrets; print(secrets.token_hex(32))')
  simcontinuum serve competition.yaml --create           # prints the organizer token once
  simcontinuum serve competition.yaml --add-team alpha   # prints alpha's token once
  simcontinuum serve competition.yaml --open public
  simcontinuum serve competition.yaml --port 8000        # the server (Ctrl-C stops it)
  simcontinuum serve competition.yaml --executor dask --address tcp://10.0.0.5:8786
  simcontinuum serve competition.yaml --show             # phases, teams, queue, which server runs
  simcontinuum serve competition.yaml --port 8000 --takeover   # its server crashed on another host
  simcontinuum serve competition.yaml --close private
  simcontinuum serve competition.yaml --reveal private
  simcontinuum serve competition.yaml --db postgresql+psycopg://cup@db.local/cup --create

See docs/competition.md for competition.yaml and the organizer's day.
"""

SUBMIT_EXAMPLES = """\
examples:
  simcontinuum submit my_policy.py --server http://127.0.0.1:8000 --token team_...
  export SIMCONTINUUM_TOKEN=team_...   # then --token is not needed (and not in your history)
  simcontinuum submit my_policy.py --server https://cup.example.org --wait
"""

SELECT_EXAMPLES = """\
examples:
  simcontinuum select 12 --server http://127.0.0.1:8000 --token team_...   # mark #12 final
  simcontinuum select 12 --server http://127.0.0.1:8000 --unselect         # unmark it
  simcontinuum status --server http://127.0.0.1:8000                       # shows the marks

With none marked, your best submissions by public score count on the private board.
"""

STATUS_EXAMPLES = """\
examples:
  simcontinuum status --server http://127.0.0.1:8000 --token team_...
  simcontinuum status --server http://127.0.0.1:8000 --json
"""


def register(sub: Any) -> None:
    """Add ``serve``, ``submit``, ``select`` and ``status`` to the CLI."""
    p = add_command(
        sub,
        "serve",
        help="run a competition server (or create it, add teams, open/close/reveal phases)",
        description="Run the competition described by FILE: a web leaderboard, uploads from "
        "teams, evaluations on a process pool or a Dask cluster. With an organizer option "
        "(--create, --add-team, --open, --close, --reveal) it changes the competition's "
        "database and exits instead.",
        epilog=SERVE_EXAMPLES,
        handler=cmd_serve,
    )
    p.add_argument("competition", metavar="FILE", help="competition.yaml")
    p.add_argument(
        "--db",
        metavar="URL",
        help="database URL (default: 'database:' of FILE, "
        "a SQLite file); e.g. postgresql+psycopg://user@host/db",
    )
    act = p.add_mutually_exclusive_group()
    act.add_argument(
        "--create",
        action="store_true",
        help="make the database and print the organizer token (once)",
    )
    act.add_argument("--add-team", metavar="NAME", help="add a team and print its token (once)")
    act.add_argument("--open", metavar="PHASE", help="open a phase for submissions")
    act.add_argument("--close", metavar="PHASE", help="close a phase (queued jobs still run)")
    act.add_argument("--reveal", metavar="PHASE", help="show a closed private phase's board")
    act.add_argument("--show", action="store_true", help="print phases, teams and the queue")
    p.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default: 127.0.0.1; put HTTPS in a reverse proxy in front)",
    )
    p.add_argument("--port", type=positive_int, default=8000, help="port (default: 8000)")
    p.add_argument(
        "--workers", type=positive_int, help="evaluations at once (default: 'workers:' of FILE)"
    )
    p.add_argument(
        "--executor",
        choices=("process", "dask", "inline"),
        default="process",
        help="where evaluations run (default: process, a local pool)",
    )
    p.add_argument(
        "--address",
        metavar="ADDR",
        help="with --executor dask: the scheduler (default: a local Dask cluster)",
    )
    p.add_argument(
        "--insecure",
        action="store_true",
        help="run policies without isolation "
        "where bubblewrap cannot run (never for untrusted code)",
    )
    p.add_argument(
        "--takeover",
        action="store_true",
        help="start even though another server holds the database's lease (after a crash "
        "on another host; a crashed server's lease also expires by itself after "
        "'server_lease_s:', and at once when its process on this host is gone)",
    )
    p.add_argument("--log-level", default="info", choices=("debug", "info", "warning", "error"))

    p = add_command(
        sub,
        "submit",
        help="upload a policy file to a competition server",
        description="Upload POLICY (a .py file defining one class with place()) to the "
        "competition server; prints the queue position.",
        epilog=SUBMIT_EXAMPLES,
        handler=cmd_submit,
    )
    p.add_argument("policy", metavar="POLICY", help="the policy file (.py)")
    _client_args(p)
    p.add_argument(
        "--wait", action="store_true", help="wait until it is evaluated, then print the result"
    )

    p = add_command(
        sub,
        "select",
        help="mark one of your submissions final for the private board (or --unselect it)",
        description="Mark SUBMISSION final: the private board counts the best of a team's "
        "final submissions (at most 'final_submissions:' of the competition, 2 by default). "
        "With none marked, the team's best by public score count. Locked once the private "
        "phase closes.",
        epilog=SELECT_EXAMPLES,
        handler=cmd_select,
    )
    p.add_argument("submission", metavar="SUBMISSION", type=positive_int, help="its number")
    _client_args(p)
    p.add_argument("--unselect", action="store_true", help="unmark it instead")

    p = add_command(
        sub,
        "status",
        help="your team's submissions on a competition server",
        description="Every submission of the token's team: state, queue position, score "
        "(public phases), failure reason.",
        epilog=STATUS_EXAMPLES,
        handler=cmd_status,
    )
    _client_args(p)
    add_common(p, json="print the server's answer as JSON")


def _client_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--server", required=True, metavar="URL", help="e.g. http://127.0.0.1:8000")
    p.add_argument("--token", metavar="T", help=f"your team token (default: ${TOKEN_ENV})")


def _err(text: str) -> None:
    sys.stderr.write(text.rstrip("\n") + "\n")


def _imports() -> bool:
    try:
        import jinja2  # noqa: F401
        import sqlalchemy  # noqa: F401
        import starlette  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError as exc:
        from simcontinuum.serve import SERVE_HINT

        _err(f"error: the competition server needs {exc.name}; {SERVE_HINT}")
        return False
    return True


def cmd_serve(args: argparse.Namespace) -> int:
    """``simcontinuum serve FILE``"""
    if not _imports():
        return 1
    from simcontinuum.boundary import IsolationError
    from simcontinuum.errors import ScenarioError
    from simcontinuum.serve.config import CompetitionError, load_competition
    from simcontinuum.serve.store import Store

    try:
        comp = load_competition(args.competition)
        store = Store(comp.database_url(args.db), comp)
        return _serve(args, comp, store)
    except (CompetitionError, ScenarioError) as exc:
        _err(f"error: {exc}")
        return 2
    except IsolationError as exc:
        _err(f"error: {exc}; or start with --insecure (never for untrusted submissions)")
        return 1


def _serve(args: argparse.Namespace, comp: Any, store: Any) -> int:
    from simcontinuum.serve.store import _safe

    try:
        if args.create:
            token = store.create()
            print(f"created the competition '{comp.spec.name}' in {_safe(store.url)}")
            print(f"organizer token (shown once; keep it secret): {token}")
            return 0
        if args.add_team:
            token = store.add_team(args.add_team)
            print(f"team {args.add_team} added; its token (shown once): {token}")
            return 0
        for action in ("open", "close", "reveal"):
            name = getattr(args, action)
            if name:
                print(store.set_phase(name, action))
                return 0
        store.require()
        store.sync_phases()
        if args.show:
            return _show(store)
        return _run_server(args, comp, store)
    finally:
        store.close()


def _show(store: Any) -> int:
    for name, st in store.phase_states().items():
        print(f"phase {name}: {st['state']}{' (revealed)' if st['revealed'] else ''}")
    print("teams: " + (", ".join(t.name for t in store.teams()) or "none"))
    print("queue: " + ", ".join(f"{k} {v}" for k, v in sorted(store.counts().items())))
    print(_lease_text(store.lease()))
    return 0


def _lease_text(lease: Any) -> str:
    import time

    from simcontinuum.serve.store import _utc

    if lease is None:
        return "server: none has run yet"
    now = time.time()
    if lease.expires_at <= now:
        return f"server: none running (the last one: pid {lease.pid} on host {lease.host})"
    return (
        f"server: running, pid {lease.pid} on host {lease.host}; last heartbeat "
        f"{max(0.0, now - lease.heartbeat_at):.0f} s ago, lease until {_utc(lease.expires_at)}"
    )


def _run_server(args: argparse.Namespace, comp: Any, store: Any) -> int:
    import logging

    from simcontinuum.serve.lease import Lease

    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    comp.secret()  # a missing secret stops here, before the server listens
    holder: dict[str, Any] = {}

    def lost() -> None:  # another server took the lease over: stop serving
        if "uvicorn" in holder:
            holder["uvicorn"].should_exit = True

    lease = Lease(store, comp.spec.server_lease_s, on_lost=lost)
    lease.acquire(takeover=args.takeover)  # LeaseHeld: exit 2, naming the holder
    lease.start()
    try:
        return _run_leased(args, comp, store, lease, holder)
    finally:
        lease.release()


def _run_leased(
    args: argparse.Namespace, comp: Any, store: Any, lease: Any, holder: dict[str, Any]
) -> int:
    import uvicorn

    from simcontinuum.experiment.executors import ExecutorError
    from simcontinuum.serve.app import create_app
    from simcontinuum.serve.dispatch import Dispatcher

    dispatcher = Dispatcher(
        store,
        comp,
        kind=args.executor,
        workers=args.workers or comp.spec.workers,
        address=args.address,
        isolation_mode="insecure" if args.insecure else None,
        lease=lease,
    )
    if dispatcher.isolation.mode == "none":
        _err(
            "warning: policies run WITHOUT isolation (bubblewrap is missing or does not work "
            f"here{': ' + dispatcher.isolation.detail if dispatcher.isolation.detail else ''}); "
            "never do this with untrusted submissions"
        )
    app = create_app(comp, store, dispatcher)
    _err(f"serving '{comp.spec.name}' on http://{args.host}:{args.port}/ (Ctrl-C stops)")
    config = uvicorn.Config(
        app,
        host=args.host,
        port=args.port,
        log_level=args.log_level,
        access_log=args.log_level == "debug",
    )
    holder["uvicorn"] = uvicorn.Server(config)
    try:
        holder["uvicorn"].run()
    except ExecutorError as exc:
        _err(f"error: {exc}")
        return 1
    if lease.lost.is_set():
        _err(
            "error: another server took this competition's database over (this one's lease "
            "expired, or it used --takeover); "
            "this one stopped"
        )
        return 1
    return 0


def _token(args: argparse.Namespace) -> str | None:
    token = args.token or os.environ.get(TOKEN_ENV)
    if not token:
        _err(
            f"error: give --token T (or set {TOKEN_ENV}); the organizer printed it when "
            "adding your team"
        )
    return token


def _client_exit(exc: Any) -> int:
    _err(f"error: {exc}")
    return 2 if 400 <= exc.status < 500 else 1


def cmd_submit(args: argparse.Namespace) -> int:
    """``simcontinuum submit POLICY --server URL --token T``"""
    from simcontinuum.serve import client

    token = _token(args)
    if not token:
        return 2
    if not args.policy.endswith(".py"):
        _err(f"error: {args.policy}: give the policy's .py file")
        return 2
    try:
        answer = client.submit(args.policy, args.server, token)
    except client.ClientError as exc:
        return _client_exit(exc)
    phases = ", ".join(answer.get("phases", []))
    print(
        f"queued: submission {answer['submission']} of team {answer.get('team')} on {phases}; "
        f"position {answer.get('position')} in the queue"
    )
    if not args.wait:
        return 0
    return _wait(args.server, token, set(answer.get("jobs", [])))


def _wait(server: str, token: str, job_ids: set[int]) -> int:
    import time

    from simcontinuum.serve import client

    while True:
        try:
            jobs = [j for j in client.status(server, token)["jobs"] if j["job"] in job_ids]
        except client.ClientError as exc:
            return _client_exit(exc)
        if jobs and all(j["state"] in ("scored", "failed") for j in jobs):
            break
        time.sleep(1.0)
    for j in jobs:
        score = (
            "hidden until revealed"
            if j["score"] is None and j["state"] == "scored"
            else (f"{j['score']:.4g}" if j["score"] is not None else "—")
        )
        print(
            f"{j['phase']}: {j['state']}, score {score}"
            + (f" — {j['reason']}" if j["reason"] else "")
        )
    return 0 if all(j["state"] == "scored" for j in jobs) else 1


def cmd_select(args: argparse.Namespace) -> int:
    """``simcontinuum select SUBMISSION --server URL --token T``"""
    from simcontinuum.serve import client

    token = _token(args)
    if not token:
        return 2
    try:
        answer = client.select(args.server, token, args.submission, final=not args.unselect)
    except client.ClientError as exc:
        return _client_exit(exc)
    print(_finals_text(answer, args.submission, not args.unselect))
    return 0


def _finals_text(finals: dict[str, Any], submission: int | None = None, final: bool = True) -> str:
    head = ""
    if submission is not None:
        head = f"submission {submission} is {'final' if final else 'no longer final'}; "
    chosen = ", ".join(f"#{i}" for i in finals.get("selected", []))
    limit = finals.get("limit")
    if chosen:
        text = f"final submissions: {chosen} (at most {limit}); the best of them counts"
    else:
        text = f"none marked final: your {limit} best by public score count automatically"
    return head + text + (" (locked: the private phase is closed)" if finals.get("locked") else "")


def cmd_status(args: argparse.Namespace) -> int:
    """``simcontinuum status --server URL --token T``"""
    import json

    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    from simcontinuum.serve import client

    token = _token(args)
    if not token:
        return 2
    try:
        answer = client.status(args.server, token)
    except client.ClientError as exc:
        return _client_exit(exc)
    if args.json:
        print(json.dumps(answer, indent=2))
        return 0
    table = Table(title=f"team {answer['team']}", header_style="bold")
    for col in ("submission", "file", "phase", "state", "score", "reason", "final"):
        table.add_column(col)
    for j in answer["jobs"]:
        state = j["state"] + (f" (position {j['position']})" if j["state"] == "queued" else "")
        score = "—" if j["score"] is None else f"{j['score']:.4g}"
        final = "final" if j.get("final") else ""
        cells = (
            str(j["submission"]),
            j["filename"],
            j["phase"],
            state,
            score,
            j["reason"] or "",
            final,
        )
        table.add_row(*(escape(c) for c in cells))  # team-controlled text is never markup
    console = Console(highlight=False)
    console.print(table)
    if "finals" in answer:
        console.print(escape(_finals_text(answer["finals"])))
    return 0
