"""The HTTP side of the competition server (Starlette).

Pages (server-rendered by Jinja2 with autoescape on, so a team name or a failure reason is
always text): ``/`` the leaderboard (live: ``static/live.js`` re-fetches ``/board`` every few
seconds, no framework), ``/scenarios`` the published (public-phase) scenarios, ``/login``,
``/team`` (submissions, upload form), ``/team/jobs/{id}`` (a run report), ``/organizer``.

API (``Authorization: Bearer TOKEN``): ``POST /api/submissions`` (multipart field ``policy``)
→ 202 ``{submission, jobs, phases, position, state}``; ``GET /api/submissions``;
``POST``/``DELETE /api/submissions/{id}/final`` (mark final for the private board, or not);
``GET /api/jobs/{id}``; ``GET /api/leaderboard``; ``GET /leaderboard.csv?phase=NAME``;
``GET /healthz``.

Security: a token acts only for its own team (every team query is filtered by the team of the
token); the organizer token opens the organizer pages only; cookies are ``HttpOnly`` and
``SameSite=Strict`` and a POST whose ``Origin`` is another site is refused; uploads are capped
(``limits.max_upload_kib``), must be a ``.py`` UTF-8 file that compiles; every client is rate
limited (``rate_limit_per_minute``, by token or address); hidden scenarios have no URL at all.
HTTPS belongs to a reverse proxy in front (see docs/competition.md).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import math
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import jinja2
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.requests import Request
from starlette.responses import (
    HTMLResponse,
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
)
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from simcontinuum.serve.board import board_csv, phase_board, public_scores
from simcontinuum.serve.config import Competition, CompetitionError
from simcontinuum.serve.store import LimitError, SelectionError, Store, Team, hash_token

HERE = Path(__file__).resolve().parent
BOARD_TTL_S = 1.0
HIDDEN_REASON = "failed on the hidden scenarios; the reason shows when the phase is revealed"
COOKIE = "simcontinuum_token"
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
)


def _templates() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=True,  # every value is text unless a template says otherwise (none do)
        undefined=jinja2.StrictUndefined,
    )
    env.filters["score"] = _fmt_score
    env.filters["when"] = _fmt_when
    return env


def _fmt_score(v: Any, digits: int = 4) -> str:
    if v is None or (isinstance(v, float) and (math.isnan(v) or math.isinf(v))):
        return "—"
    return f"{float(v):.{digits}g}"


def _fmt_when(v: Any) -> str:
    if v is None:
        return "—"
    return dt.datetime.fromtimestamp(float(v), dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


class RateLimiter:
    """At most ``per_minute`` requests per client in any 60 s window (sliding log)."""

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def allow(self, key: str, now: float | None = None) -> float:
        """0 when the request may go on; otherwise the seconds to wait."""
        now = time.monotonic() if now is None else now
        with self._lock:
            hits = self._hits.setdefault(key, deque())
            while hits and hits[0] <= now - 60.0:
                hits.popleft()
            if len(hits) >= self.per_minute:
                return max(0.1, 60.0 - (now - hits[0]))
            hits.append(now)
            if len(self._hits) > 100_000:  # forget idle clients; bounded memory
                for k in [k for k, v in self._hits.items() if not v]:
                    del self._hits[k]
            return 0.0


def _token(request: Request) -> str | None:
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip() or None
    return request.cookies.get(COOKIE) or None


class Server:
    """The application's state: the competition, its store, the dispatcher, templates."""

    def __init__(self, competition: Competition, store: Store, dispatcher: Any = None) -> None:
        self.competition = competition
        self.store = store
        self.dispatcher = dispatcher
        self.templates = _templates()
        self.limiter = RateLimiter(competition.spec.rate_limit_per_minute)
        self.cap = competition.spec.limits.max_upload_kib * 1024
        self._boards: tuple[float, list[dict[str, Any]]] | None = None
        self._boards_lock = threading.Lock()
        self._queued_ids: tuple[float, list[int]] | None = None
        self._tokens: dict[str, float] = {}  # valid token hashes -> until when

    # -------------------------------------------------------------- helpers

    def known_token(self, token: str) -> bool:
        """True when ``token`` was seen valid (a team's or the organizer's) lately."""
        expiry = self._tokens.get(hash_token(token))
        return expiry is not None and expiry > time.monotonic()

    def remember_token(self, token: str) -> None:
        """Look ``token`` up; remember it for a minute if it is valid (never if not)."""
        if self.store.team_for(token) is not None or self.store.is_organizer(token):
            if len(self._tokens) > 10_000:
                self._tokens.clear()
            self._tokens[hash_token(token)] = time.monotonic() + 60.0

    def page(self, name: str, request: Request, status: int = 200, **ctx: Any) -> HTMLResponse:
        html = self.templates.get_template(name).render(
            competition=self.competition.spec.name, path=request.url.path, **ctx
        )
        return HTMLResponse(html, status_code=status)

    async def team(self, request: Request) -> Team:
        team = await run_in_threadpool(self.store.team_for, _token(request))
        if team is None:
            raise HTTPException(
                401, "a valid team token is needed (log in, or send 'Authorization: Bearer TOKEN')"
            )
        return team

    async def organizer(self, request: Request) -> None:
        if not await run_in_threadpool(self.store.is_organizer, _token(request)):
            raise HTTPException(403, "the organizer token is needed")

    def boards(self) -> list[dict[str, Any]]:
        """Every phase's board; computed at most once a second (the page refreshes every few
        seconds; under load every viewer then shares one computation)."""
        with self._boards_lock:
            now = time.monotonic()
            if self._boards is None or now - self._boards[0] >= BOARD_TTL_S:
                states = self.store.phase_states()
                jobs = {p.name: self.store.phase_jobs(p.name) for p in self.competition.phases}
                first_public = next((p.name for p in self.competition.phases if p.public), None)
                public = public_scores(jobs[first_public]) if first_public else {}
                revealed = any(
                    not p.public and states.get(p.name, {}).get("revealed")
                    for p in self.competition.phases
                )
                finals = self.store.all_finals() if revealed else {}
                limit = self.competition.spec.final_submissions
                boards = [
                    phase_board(p, states.get(p.name, {}), jobs[p.name], finals, public, limit)
                    for p in self.competition.phases
                ]
                self._boards = (now, boards)
            return self._boards[1]

    def queue(self) -> list[int]:
        """The queued job ids in order, read at most once a second (for queue positions)."""
        with self._boards_lock:
            now = time.monotonic()
            if self._queued_ids is None or now - self._queued_ids[0] >= BOARD_TTL_S:
                self._queued_ids = (now, self.store.queued_ids())
            return self._queued_ids[1]

    def invalidate(self) -> None:
        """Forget the cached boards (a phase changed state)."""
        with self._boards_lock:
            self._boards = None

    async def upload(self, request: Request) -> tuple[str, bytes]:
        """The policy file of a multipart request, checked (size, type, syntax).

        Raises:
            HTTPException: 413 too large, 400 not a Python source file.
        """
        length = request.headers.get("content-length")
        limit = self.cap + 16 * 1024  # the form's own bytes around the file
        if length is not None and length.isdigit() and int(length) > limit:
            raise HTTPException(413, f"the upload is larger than {self.cap // 1024} KiB")
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise HTTPException(413, f"the upload is larger than {self.cap // 1024} KiB")
            chunks.append(chunk)
        request._body = b"".join(chunks)  # form() parses these bytes, read once under the cap
        try:
            form = await request.form(max_files=1, max_fields=4, max_part_size=self.cap)
        except Exception as exc:  # python-multipart's and Starlette's parse errors
            raise HTTPException(400, f"not a multipart form with a 'policy' file: {exc}") from None
        item = form.get("policy")
        if item is None or isinstance(item, str):
            raise HTTPException(400, "no file in the form field 'policy'")
        name = Path(item.filename or "").name
        data = await item.read()
        await form.close()
        return name, check_source(name, data, self.cap)


def check_source(name: str, data: bytes, cap: int) -> bytes:
    """``data`` if it is a policy source file: ``*.py``, at most ``cap`` bytes, UTF-8 text
    without NUL bytes, valid Python syntax (compiled, never run, here).

    Raises:
        HTTPException: 413 or 400 with the reason.
    """
    if len(data) > cap:
        raise HTTPException(413, f"the upload is larger than {cap // 1024} KiB")
    if not name.endswith(".py") or len(name) > 200:
        raise HTTPException(400, f"{name or 'the file'}: upload a Python file (*.py)")
    if not data.strip():
        raise HTTPException(400, f"{name}: the file is empty")
    if b"\0" in data:
        raise HTTPException(400, f"{name}: binary content; upload the .py source text")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise HTTPException(
            400, f"{name}: not UTF-8 text ({exc.reason} at byte {exc.start})"
        ) from None
    try:
        compile(text, name, "exec", dont_inherit=True)
    except (SyntaxError, ValueError) as exc:
        where = f" (line {exc.lineno})" if isinstance(exc, SyntaxError) and exc.lineno else ""
        raise HTTPException(400, f"{name}: not valid Python{where}: {exc}") from None
    except (RecursionError, MemoryError, OverflowError):  # pathological nesting
        raise HTTPException(400, f"{name}: too deeply nested to compile") from None
    return data


# ------------------------------------------------------------------ middleware


class Guard(BaseHTTPMiddleware):
    """Rate limits, cross-site POST refusal and security headers on every response."""

    def __init__(self, app: Any, server: Server) -> None:
        super().__init__(app)
        self.server = server

    async def dispatch(
        self, request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        if not request.url.path.startswith("/static/"):
            token = _token(request)
            # A valid token has its own budget; no token or an unknown one counts against the
            # client's address, so made-up tokens cannot buy fresh budgets.
            known = token is not None and self.server.known_token(token)
            key = f"t:{hash_token(token)}" if known and token else _address_key(request)
            wait = self.server.limiter.allow(key)
            if wait:
                return PlainTextResponse(
                    "too many requests; slow down",
                    429,
                    headers={"Retry-After": f"{math.ceil(wait)}"},
                )
            if token is not None and not known:
                await run_in_threadpool(self.server.remember_token, token)
        if request.method in ("POST", "DELETE") and not _same_origin(request):
            return PlainTextResponse("cross-site form posts are refused", 403)
        response = await call_next(request)
        response.headers["Content-Security-Policy"] = CSP
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "same-origin"  # browsers then send Origin on POST
        response.headers["X-Frame-Options"] = "DENY"
        return response


def _address_key(request: Request) -> str:
    return f"ip:{request.client.host if request.client else '-'}"


def _same_origin(request: Request) -> bool:
    origin = request.headers.get("origin")
    if not origin or (origin == "null" and "authorization" in request.headers):
        return True  # not a browser form (the CLI), or a bearer-token call
    host = request.headers.get("host", "")
    return origin.split("://", 1)[-1] == host


# ------------------------------------------------------------------ the application


def create_app(competition: Competition, store: Store, dispatcher: Any = None) -> Starlette:
    """The ASGI application; the dispatcher (if any) runs while the application does."""
    srv = Server(competition, store, dispatcher)

    async def index(request: Request) -> Response:
        boards = await run_in_threadpool(srv.boards)
        return srv.page("index.html", request, boards=boards)

    async def board(request: Request) -> Response:
        boards = await run_in_threadpool(srv.boards)
        return srv.page("_boards.html", request, boards=boards)

    async def board_json(request: Request) -> Response:
        return JSONResponse({"phases": await run_in_threadpool(srv.boards)})

    async def export(request: Request) -> Response:
        name = request.query_params.get("phase") or competition.phases[0].name
        try:
            competition.phase(name)
        except CompetitionError as exc:
            raise HTTPException(404, str(exc)) from None
        boards = {b["name"]: b for b in await run_in_threadpool(srv.boards)}
        b = boards[name]
        if not b["visible"]:
            raise HTTPException(403, f"phase {name} is private and not revealed yet")
        return PlainTextResponse(
            board_csv(b),
            media_type="text/csv",
            headers={"Content-Disposition": f'attachment; filename="leaderboard-{name}.csv"'},
        )

    async def scenarios(request: Request) -> Response:
        published = [p for p in competition.phases if p.public]
        return srv.page("scenarios.html", request, phases=published)

    async def scenario_file(request: Request) -> Response:
        phase, label = request.path_params["phase"], request.path_params["label"]
        for p in competition.phases:
            if p.name == phase and p.public:
                for lab, f in zip(p.labels, p.files, strict=True):
                    if lab == label:
                        text = await run_in_threadpool(f.read_text, encoding="utf-8")
                        return PlainTextResponse(text, media_type="text/yaml; charset=utf-8")
        # A private phase's scenarios have no URL: the same answer as for a made-up name.
        raise HTTPException(404, "no such published scenario")

    async def login(request: Request) -> Response:
        if request.method == "GET":
            return srv.page("login.html", request, error=None)
        form = await request.form(max_files=0, max_fields=2)
        token = str(form.get("token") or "").strip()
        if await run_in_threadpool(srv.store.is_organizer, token):
            target = "/organizer"
        elif await run_in_threadpool(srv.store.team_for, token) is not None:
            target = "/team"
        else:
            return srv.page("login.html", request, status=401, error="unknown token")
        response = RedirectResponse(target, status_code=303)
        response.set_cookie(
            COOKIE, token, httponly=True, samesite="strict", secure=request.url.scheme == "https"
        )
        return response

    async def logout(request: Request) -> Response:
        response = RedirectResponse("/", status_code=303)
        response.delete_cookie(COOKIE)
        return response

    def _team_view(team: Team) -> dict[str, Any]:
        jobs = srv.store.team_jobs(team.id, srv.queue())
        public = {p.name for p in competition.phases if p.public}
        states = srv.store.phase_states()
        finals = srv.store.finals(team.id)
        for j in jobs:
            j["final"] = j["submission"] in finals.selected
            j["selectable"] = j["phase"] not in public and not finals.locked
            j["visible"] = j["phase"] in public or bool(states.get(j["phase"], {}).get("revealed"))
            if not j["visible"]:
                # A reason is text the policy controls (its exception): on a hidden scenario
                # it could carry the scenario out. Shown once the phase is revealed.
                j["score"] = j["ci_low"] = j["ci_high"] = None
                if j["state"] == "failed":
                    j["reason"] = HIDDEN_REASON
        return {
            "team": team,
            "jobs": jobs,
            "limits": competition.spec.limits,
            "finals": finals,
            "has_private": len(public) < len(competition.phases),
        }

    async def team_page(request: Request) -> Response:
        team = await srv.team(request)
        view = await run_in_threadpool(_team_view, team)
        done = request.query_params.get("done")
        return srv.page("team.html", request, message=done, error=False, **view)

    async def team_final(request: Request) -> Response:
        """The team page's "final" buttons: form field ``final`` is 1 (select) or 0."""
        team = await srv.team(request)
        form = await request.form(max_files=0, max_fields=2)
        final = str(form.get("final", "1")) != "0"
        sid = int(request.path_params["id"])
        try:
            await run_in_threadpool(srv.store.select_final, team, sid, final)
        except SelectionError as exc:
            status = 404 if exc.missing else 409
            view = await run_in_threadpool(_team_view, team)
            return srv.page(
                "team.html", request, status=status, message=str(exc), error=True, **view
            )
        from urllib.parse import quote

        text = f"submission {sid} is {'final' if final else 'no longer final'}"
        return RedirectResponse(f"/team?done={quote(text)}", status_code=303)

    async def api_final(request: Request) -> Response:
        """``POST`` marks a submission final, ``DELETE`` unmarks it."""
        team = await srv.team(request)
        sid = int(request.path_params["id"])
        final = request.method == "POST"
        try:
            finals = await run_in_threadpool(srv.store.select_final, team, sid, final)
        except SelectionError as exc:
            return JSONResponse({"error": str(exc)}, status_code=404 if exc.missing else 409)
        return JSONResponse({"submission": sid, "final": final, **_finals_json(finals)})

    async def team_fragment(request: Request) -> Response:
        team = await srv.team(request)
        view = await run_in_threadpool(_team_view, team)
        return srv.page("_jobs.html", request, **view)

    async def team_submit(request: Request) -> Response:
        team = await srv.team(request)
        try:
            name, code = await srv.upload(request)
            accepted = await run_in_threadpool(srv.store.submit, team, name, code)
        except (HTTPException, LimitError) as exc:
            text = exc.detail if isinstance(exc, HTTPException) else str(exc)
            status = exc.status_code if isinstance(exc, HTTPException) else 429
            view = await run_in_threadpool(_team_view, team)
            return srv.page("team.html", request, status=status, message=text, error=True, **view)
        if srv.dispatcher is not None:
            srv.dispatcher.wake()
        return RedirectResponse(f"/team?queued={accepted.submission_id}", status_code=303)

    async def job_page(request: Request) -> Response:
        team = await srv.team(request)
        data = await run_in_threadpool(_job_report, srv, team, int(request.path_params["id"]))
        return srv.page("job.html", request, team=team, **data)

    async def api_submit(request: Request) -> Response:
        team = await srv.team(request)
        name, code = await srv.upload(request)
        try:
            accepted = await run_in_threadpool(srv.store.submit, team, name, code)
        except LimitError as exc:
            return JSONResponse({"error": str(exc)}, status_code=429)
        if srv.dispatcher is not None:
            srv.dispatcher.wake()
        return JSONResponse(
            {
                "submission": accepted.submission_id,
                "jobs": list(accepted.job_ids),
                "phases": list(accepted.phases),
                "state": "queued",
                "position": accepted.position,
                "team": team.name,
            },
            status_code=202,
        )

    async def api_status(request: Request) -> Response:
        team = await srv.team(request)
        view = await run_in_threadpool(_team_view, team)
        out = []
        for j in view["jobs"]:
            hidden = not j["visible"]
            out.append(
                {
                    "job": j["id"],
                    "submission": j["submission"],
                    "filename": j["filename"],
                    "phase": j["phase"],
                    "state": j["state"],
                    "position": j["position"],
                    "score": None if hidden else j["score"],
                    "reason": j["reason"],
                    "submitted_at": j["created_at"],
                    "finished_at": j["finished_at"],
                    "final": j["final"],
                }
            )
        return JSONResponse(
            {"team": team.name, "jobs": out, "finals": _finals_json(view["finals"])}
        )

    async def api_job(request: Request) -> Response:
        team = await srv.team(request)
        data = await run_in_threadpool(_job_report, srv, team, int(request.path_params["id"]))
        job = data["job"]
        return JSONResponse(
            {
                "job": job["id"],
                "phase": job["phase"],
                "state": job["state"],
                "reason": job["reason"],
                "score": job["score"] if data["visible"] else None,
                "scenarios": data["per_scenario"],
                "runs": data["runs"],
            }
        )

    async def organizer_page(request: Request) -> Response:
        await srv.organizer(request)
        states, counts, teams, finals = await run_in_threadpool(
            lambda: (
                srv.store.phase_states(),
                srv.store.counts(),
                srv.store.teams(),
                srv.store.all_finals(),
            )
        )
        return srv.page(
            "organizer.html",
            request,
            phases=competition.phases,
            states=states,
            counts=counts,
            teams=teams,
            finals={k: sorted(v) for k, v in finals.items()},
            message=request.query_params.get("done"),
        )

    async def organizer_action(request: Request) -> Response:
        await srv.organizer(request)
        name, action = request.path_params["name"], request.path_params["action"]
        try:
            text = await run_in_threadpool(srv.store.set_phase, name, action)
        except CompetitionError as exc:
            raise HTTPException(409, str(exc)) from None
        srv.invalidate()
        from urllib.parse import quote

        return RedirectResponse(f"/organizer?done={quote(text)}", status_code=303)

    async def healthz(request: Request) -> Response:
        counts = await run_in_threadpool(srv.store.counts)
        d = srv.dispatcher
        alive = d is None or d.alive
        return JSONResponse(
            {"ok": alive, "dispatcher": alive, "jobs": counts}, 200 if alive else 503
        )

    async def on_http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        wants_json = request.url.path.startswith("/api/") or "authorization" in request.headers
        if wants_json:
            return JSONResponse({"error": exc.detail}, status_code=exc.status_code)
        if exc.status_code == 401 and request.method == "GET":
            return RedirectResponse("/login", status_code=303)  # a person: to the login form
        return srv.page(
            "error.html", request, status=exc.status_code, code=exc.status_code, detail=exc.detail
        )

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if dispatcher is not None:
            await run_in_threadpool(dispatcher.start)
        try:
            yield
        finally:
            if dispatcher is not None:
                await run_in_threadpool(dispatcher.stop)

    routes = [
        Route("/", index),
        Route("/board", board),
        Route("/leaderboard.csv", export),
        Route("/scenarios", scenarios),
        Route("/scenarios/{phase}/{label}", scenario_file),
        Route("/login", login, methods=["GET", "POST"]),
        Route("/logout", logout, methods=["POST"]),
        Route("/team", team_page),
        Route("/team/jobs-fragment", team_fragment),
        Route("/team/submit", team_submit, methods=["POST"]),
        Route("/team/jobs/{id:int}", job_page),
        Route("/team/final/{id:int}", team_final, methods=["POST"]),
        Route("/organizer", organizer_page),
        Route("/organizer/phases/{name}/{action}", organizer_action, methods=["POST"]),
        Route("/api/submissions", api_submit, methods=["POST"]),
        Route("/api/submissions", api_status, methods=["GET"]),
        Route("/api/submissions/{id:int}/final", api_final, methods=["POST", "DELETE"]),
        Route("/api/jobs/{id:int}", api_job),
        Route("/api/leaderboard", board_json),
        Route("/healthz", healthz),
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
    ]
    return Starlette(
        routes=routes,
        middleware=[Middleware(Guard, server=srv)],
        exception_handlers={HTTPException: on_http_error},
        lifespan=lifespan,
    )


def _finals_json(finals: Any) -> dict[str, Any]:
    return {
        "selected": list(finals.selected),
        "limit": finals.limit,
        "automatic": finals.automatic,
        "locked": finals.locked,
    }


def _job_report(srv: Server, team: Team, job_id: int) -> dict[str, Any]:
    """A job's run report, for its own team only; 404 for anyone else's (no existence leak)."""
    job = srv.store.job_of_team(job_id, team.id)
    if job is None:
        raise HTTPException(404, "no such submission of your team")
    phase = srv.competition.phase(job["phase"])
    revealed = bool(srv.store.phase_states().get(phase.name, {}).get("revealed"))
    visible = phase.public or revealed
    runs = srv.store.job_runs(job_id) if visible else []
    per: dict[str, list[float]] = {}
    for r in runs:
        if r["score"] is not None:
            per.setdefault(r["scenario"], []).append(float(r["score"]))
    per_scenario = [
        {"scenario": s, "score": sum(v) / len(v), "runs": len(v)} for s, v in sorted(per.items())
    ]
    public_runs = [
        {
            "scenario": r["scenario"],
            "seed": r["seed_index"],
            "status": r["status"],
            "score": r["score"],
            "reason": r["reason"],
            "wall_s": r["wall_s"],
            "policy_errors": r["policy_errors"],
            "parts": {k[5:]: v for k, v in r["row"].items() if k.startswith("part_")},
        }
        for r in runs
    ]
    if not visible:
        job = {**job, "score": None, "ci_low": None, "ci_high": None, "wall_s": None}
        if job["state"] == "failed":
            job["reason"] = HIDDEN_REASON
    return {"job": job, "visible": visible, "runs": public_runs, "per_scenario": per_scenario}


__all__ = ["RateLimiter", "Server", "check_source", "create_app"]
