"""The competition's database: tables and every transaction, through SQLAlchemy 2 Core.

Why SQLAlchemy and not the standard library's ``sqlite3``: the same statements must run on
SQLite (one file, no service: the default) and on PostgreSQL (a shared deployment), with row
locks (``FOR UPDATE``) where PostgreSQL needs them; Core (no ORM) keeps each transaction a
short, readable block.

Tables: ``meta`` (organizer token hash), ``leases`` (the server lease), ``teams`` (token
hashes, never tokens),
``phases`` (pending → open → closed, plus ``revealed``), ``submissions`` (the uploaded
source), ``jobs`` (one per submission × phase open at upload: queued → running → scored or
failed) and ``runs`` (one per job × scenario × seed index; seeds themselves are never
stored).

Invariants, each kept by one transaction:

- a job's runs and its final state are written together (:meth:`Store.finish`), and only by
  the owner that claimed it while it is still ``running`` — a stale owner writes nothing, so
  no job is scored twice;
- a server that starts puts every ``running`` job back in the queue
  (:meth:`Store.recover`): what was in flight when the previous one died is evaluated again,
  nothing finished is touched, nothing is dropped (one server per database: the
  server lease, :mod:`.lease`, taken in one transaction and checked by every claim);
- a job whose evaluation machinery failed (a worker died) is retried once; the second failure
  is a ``failed`` job with the reason (:meth:`Store.retry_or_fail`).

SQLite runs in WAL mode with ``BEGIN IMMEDIATE`` for writes (a write transaction takes the
write lock first, so two writers wait for each other instead of failing) and plain reads that
never block.
"""

from __future__ import annotations

import bisect
import hashlib
import json
import math
import secrets
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from simcontinuum.jsonutil import jsonable
from simcontinuum.serve.config import Competition, CompetitionError

SCHEMA_VERSION = "1"
MAX_ATTEMPTS = 2
QUEUED, RUNNING, SCORED, FAILED = "queued", "running", "scored", "failed"
PENDING, OPEN, CLOSED = "pending", "open", "closed"

metadata = sa.MetaData()

meta = sa.Table(
    "meta",
    metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)
teams = sa.Table(
    "teams",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(40), nullable=False, unique=True),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("created_at", sa.Float, nullable=False),
)
phases = sa.Table(
    "phases",
    metadata,
    sa.Column("name", sa.String(40), primary_key=True),
    sa.Column("state", sa.String(12), nullable=False),
    sa.Column("revealed", sa.Boolean, nullable=False, default=False),
    sa.Column("opened_at", sa.Float),
    sa.Column("closed_at", sa.Float),
)
submissions = sa.Table(
    "submissions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("team_id", sa.Integer, sa.ForeignKey("teams.id"), nullable=False, index=True),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("filename", sa.String(200), nullable=False),
    sa.Column("size", sa.Integer, nullable=False),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("code", sa.LargeBinary, nullable=False),
)
jobs = sa.Table(
    "jobs",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("submission_id", sa.Integer, sa.ForeignKey("submissions.id"), nullable=False),
    sa.Column("phase", sa.String(40), sa.ForeignKey("phases.name"), nullable=False),
    sa.Column("state", sa.String(12), nullable=False, index=True),
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("evaluations", sa.Integer, nullable=False, default=0),
    sa.Column("reason", sa.Text),
    sa.Column("owner", sa.String(64)),
    sa.Column("queued_at", sa.Float, nullable=False),
    sa.Column("started_at", sa.Float),
    sa.Column("finished_at", sa.Float),
    sa.Column("score", sa.Float),
    sa.Column("ci_low", sa.Float),
    sa.Column("ci_high", sa.Float),
    sa.Column("wall_s", sa.Float),
    sa.UniqueConstraint("submission_id", "phase"),
)
runs = sa.Table(
    "runs",
    metadata,
    sa.Column("job_id", sa.Integer, sa.ForeignKey("jobs.id"), primary_key=True),
    sa.Column("scenario", sa.String(200), primary_key=True),
    sa.Column("seed_index", sa.Integer, primary_key=True),
    sa.Column("status", sa.String(12), nullable=False),
    sa.Column("score", sa.Float),
    sa.Column("reason", sa.Text),
    sa.Column("wall_s", sa.Float),
    sa.Column("policy_errors", sa.Integer),
    sa.Column("row", sa.Text, nullable=False),  # the whole row as JSON (score parts, ...)
)

finals = sa.Table(
    "finals",
    metadata,
    sa.Column("submission_id", sa.Integer, sa.ForeignKey("submissions.id"), primary_key=True),
    sa.Column("team_id", sa.Integer, sa.ForeignKey("teams.id"), nullable=False, index=True),
    sa.Column("selected_at", sa.Float, nullable=False),
)
leases = sa.Table(
    "leases",
    metadata,
    sa.Column("name", sa.String(40), primary_key=True),  # "server": one row per database
    sa.Column("holder", sa.String(100), nullable=False),
    sa.Column("host", sa.String(255), nullable=False),
    sa.Column("pid", sa.Integer, nullable=False),
    sa.Column("pid_start", sa.String(200), nullable=False),  # tells a reused pid apart
    sa.Column("acquired_at", sa.Float, nullable=False),
    sa.Column("heartbeat_at", sa.Float, nullable=False),
    sa.Column("expires_at", sa.Float, nullable=False),
)
SERVER_LEASE = "server"


@dataclass(frozen=True)
class LeaseRow:
    """Who holds (or last held) the server lease of a database."""

    holder: str
    host: str
    pid: int
    pid_start: str
    acquired_at: float
    heartbeat_at: float
    expires_at: float


class LeaseHeld(CompetitionError):
    """Another server holds the database's lease (and it has not expired).

    Attributes:
        lease: the holder's row.
    """

    def __init__(self, message: str, lease: LeaseRow) -> None:
        super().__init__(message)
        self.lease = lease


def hash_token(token: str) -> str:
    """The stored form of a token: SHA-256 (tokens are 256 random bits; no salt needed)."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_token(prefix: str) -> str:
    """A fresh token, e.g. ``team_3q...``: 256 bits from :mod:`secrets`."""
    return f"{prefix}_{secrets.token_urlsafe(32)}"


@dataclass(frozen=True)
class Team:
    """A team as the server sees it (never its token)."""

    id: int
    name: str


@dataclass(frozen=True)
class Claimed:
    """A job taken from the queue by one owner: what a worker needs to evaluate it."""

    id: int
    phase: str
    team: str
    code: bytes
    attempts: int


@dataclass(frozen=True)
class Accepted:
    """An accepted upload: the submission, its jobs (one per open phase), queue position."""

    submission_id: int
    job_ids: tuple[int, ...]
    phases: tuple[str, ...]
    position: int


class LimitError(CompetitionError):
    """A team asked for more than its limits allow, or no phase takes submissions."""


class SelectionError(CompetitionError):
    """A final-submission selection that cannot be made (HTTP 409), or of a submission that
    is not the team's (``missing``: HTTP 404)."""

    def __init__(self, message: str, *, missing: bool = False) -> None:
        super().__init__(message)
        self.missing = missing


@dataclass(frozen=True)
class Finals:
    """A team's final-submission selection for the private board.

    Attributes:
        selected: the submission ids it marked final, in order.
        limit: ``final_submissions`` of ``competition.yaml``.
        locked: a private phase is closed: the selection can no longer change.
    """

    selected: tuple[int, ...]
    limit: int
    locked: bool

    @property
    def automatic(self) -> bool:
        """True when none is selected: the best public-ranked ones count instead."""
        return not self.selected


def _now() -> float:
    return time.time()


def _float(v: Any) -> float | None:
    if v is None:
        return None
    f = float(v)
    return None if math.isnan(f) or math.isinf(f) else f


class Store:
    """The database of one competition (see the module docstring for the invariants)."""

    def __init__(self, url: str, competition: Competition) -> None:
        self.url = url
        self.competition = competition
        self.sqlite = url.startswith("sqlite")
        self.engine = self._engine(url, write=True)
        self.reader = self._engine(url, write=False) if self.sqlite else self.engine
        self._submit_lock = threading.Lock()

    def _engine(self, url: str, *, write: bool) -> Engine:
        if not self.sqlite:
            try:
                return sa.create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)
            except (ImportError, sa.exc.ArgumentError) as exc:
                raise CompetitionError(
                    f"--db {_safe(url)}: {exc}; for PostgreSQL use "
                    "postgresql+psycopg://user@host/db (pip install 'simcontinuum[serve]')"
                ) from None
        engine = sa.create_engine(url, connect_args={"check_same_thread": False, "timeout": 60})

        @sa.event.listens_for(engine, "connect")
        def _connect(dbapi: Any, _record: Any) -> None:
            dbapi.isolation_level = None  # we say BEGIN ourselves (below)
            cur = dbapi.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: durable across crashes
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=60000")
            cur.close()

        @sa.event.listens_for(engine, "begin")
        def _begin(conn: Connection) -> None:
            conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

        return engine

    def close(self) -> None:
        """Close every connection."""
        self.engine.dispose()
        if self.reader is not self.engine:
            self.reader.dispose()

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """One write transaction: committed at the end of the block, rolled back on error."""
        with self.engine.begin() as conn:
            yield conn

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """One consistent read (a snapshot)."""
        with self.reader.begin() as conn:
            yield conn

    # ------------------------------------------------------------------ lifecycle

    @property
    def sqlite_file(self) -> Path | None:
        """The file of a SQLite database (None for PostgreSQL or an in-memory one)."""
        if not self.sqlite:
            return None
        name = sa.engine.make_url(self.url).database
        return Path(name) if name and name != ":memory:" else None

    def created(self) -> bool:
        """True when :meth:`create` has run on this database. Never makes a SQLite file:
        connecting would leave an empty one behind for a read-only command."""
        file = self.sqlite_file
        if file is not None and not file.exists():
            return False
        try:
            with self.read() as c:
                return (
                    c.execute(sa.select(meta.c.value).where(meta.c.key == "schema")).first()
                    is not None
                )
        except sa.exc.OperationalError:
            return False
        except sa.exc.ProgrammingError:  # PostgreSQL: no such table
            return False

    def create(self) -> str:
        """Make the tables and the organizer token; returns the token (shown once).

        Raises:
            CompetitionError: the database already holds a competition.
        """
        if self.created():
            raise CompetitionError(
                f"{_safe(self.url)}: already holds a competition; to start over, remove it "
                "(or give another --db)"
            )
        file = self.sqlite_file
        if file is not None and not file.parent.is_dir():
            raise CompetitionError(
                f"database: the folder {file.parent} does not exist; create it, or set "
                "'database:' (or --db) to a file in an existing folder"
            )
        metadata.create_all(self.engine)
        token = new_token("org")
        with self.write() as c:
            c.execute(
                meta.insert(),
                [
                    {"key": "schema", "value": SCHEMA_VERSION},
                    {"key": "name", "value": self.competition.spec.name},
                    {"key": "organizer_token", "value": hash_token(token)},
                ],
            )
        self.sync_phases()
        return token

    def require(self) -> None:
        """Raise unless the database holds a competition (with the command that makes one)."""
        if not self.created():
            where = self.sqlite_file or _safe(self.url)
            db = "" if self.url == self.competition.database_url() else f" --db {_safe(self.url)}"
            raise CompetitionError(
                f"no competition database at {where}; create it with "
                f"`simcontinuum serve {self.competition.path}{db} --create`"
            )
        metadata.create_all(self.engine)  # a database made by an older version: new tables

    def sync_phases(self) -> None:
        """Add a ``pending`` row for every phase of ``competition.yaml`` not yet known."""
        with self.write() as c:
            known = set(c.execute(sa.select(phases.c.name)).scalars())
            for p in self.competition.phases:
                if p.name not in known:
                    c.execute(phases.insert().values(name=p.name, state=PENDING, revealed=False))

    # ------------------------------------------------------------------ the server lease

    def lease(self) -> LeaseRow | None:
        """The server lease row (held or expired), or None if no server ever ran."""
        with self.read() as c:
            row = c.execute(sa.select(leases).where(leases.c.name == SERVER_LEASE)).first()
        return _lease_row(row)

    def acquire_lease(
        self,
        mine: LeaseRow,
        *,
        takeover: bool = False,
        holder_dead: Any = None,
    ) -> LeaseRow | None:
        """Take the server lease for ``mine`` in one transaction; returns the previous
        holder's row (None if there was none or it was ours).

        The lease is free when no row exists, when its ``expires_at`` is past, when
        ``holder_dead(row)`` says its process is gone, or with ``takeover``.

        Raises:
            LeaseHeld: another server holds it.
        """
        now = mine.acquired_at
        for attempt in (1, 2):
            try:
                with self.write() as c:
                    row = _lease_row(
                        c.execute(
                            sa.select(leases).where(leases.c.name == SERVER_LEASE).with_for_update()
                        ).first()
                    )
                    values = {
                        k: getattr(mine, k)
                        for k in (
                            "holder",
                            "host",
                            "pid",
                            "pid_start",
                            "acquired_at",
                            "heartbeat_at",
                            "expires_at",
                        )
                    }
                    if row is None:
                        c.execute(leases.insert().values(name=SERVER_LEASE, **values))
                        return None
                    free = (
                        row.holder == mine.holder
                        or row.expires_at <= now
                        or takeover
                        or (holder_dead is not None and holder_dead(row))
                    )
                    if not free:
                        raise LeaseHeld(_held_text(row, now), row)
                    c.execute(leases.update().where(leases.c.name == SERVER_LEASE).values(**values))
                    return None if row.holder == mine.holder else row
            except sa.exc.IntegrityError:  # PostgreSQL: two first servers inserted at once
                if attempt == 2:
                    raise
        return None  # pragma: no cover - the loop returns or raises

    def renew_lease(self, holder: str, ttl_s: float, now: float | None = None) -> bool:
        """Move the lease's expiry ``ttl_s`` ahead; False when ``holder`` no longer holds it
        (another server took over)."""
        now = _now() if now is None else now
        with self.write() as c:
            result = c.execute(
                leases.update()
                .where(leases.c.name == SERVER_LEASE, leases.c.holder == holder)
                .values(heartbeat_at=now, expires_at=now + ttl_s)
            )
            return bool(result.rowcount)

    def release_lease(self, holder: str) -> bool:
        """Give the lease up (a clean stop): the next server starts at once."""
        with self.write() as c:
            result = c.execute(
                leases.update()
                .where(leases.c.name == SERVER_LEASE, leases.c.holder == holder)
                .values(expires_at=0.0)
            )
            return bool(result.rowcount)

    # ------------------------------------------------------------------ teams and tokens

    def add_team(self, name: str) -> str:
        """Add a team; returns its token (shown once, stored hashed).

        Raises:
            CompetitionError: a bad or taken name.
        """
        import re

        from simcontinuum.serve.config import NAME_PATTERN

        if not re.match(NAME_PATTERN, name):
            raise CompetitionError(
                f"team name {name!r}: use 1-40 letters, digits, '_', '.', '-' (starting with a "
                "letter or digit)"
            )
        self.require()
        token = new_token("team")
        try:
            with self.write() as c:
                c.execute(
                    teams.insert().values(
                        name=name, token_hash=hash_token(token), created_at=_now()
                    )
                )
        except sa.exc.IntegrityError:
            raise CompetitionError(f"a team called {name!r} exists already") from None
        return token

    def rename_unchecked(self, team_id: int, name: str) -> None:
        """Give a team any display name (no pattern check) — only for tests of escaping."""
        with self.write() as c:
            c.execute(teams.update().where(teams.c.id == team_id).values(name=name))

    def team_for(self, token: str | None) -> Team | None:
        """The team of ``token``, or None."""
        if not token:
            return None
        with self.read() as c:
            row = c.execute(
                sa.select(teams.c.id, teams.c.name).where(teams.c.token_hash == hash_token(token))
            ).first()
        return Team(int(row.id), str(row.name)) if row else None

    def is_organizer(self, token: str | None) -> bool:
        """True for the organizer's token."""
        if not token:
            return False
        with self.read() as c:
            stored = c.execute(
                sa.select(meta.c.value).where(meta.c.key == "organizer_token")
            ).scalar()
        return stored is not None and secrets.compare_digest(stored, hash_token(token))

    def teams(self) -> list[Team]:
        """Every team, by name."""
        with self.read() as c:
            rows = c.execute(sa.select(teams.c.id, teams.c.name).order_by(teams.c.name)).all()
        return [Team(int(r.id), str(r.name)) for r in rows]

    # ------------------------------------------------------------------ phases

    def phase_states(self) -> dict[str, dict[str, Any]]:
        """``{phase: {state, revealed, opened_at, closed_at}}``."""
        with self.read() as c:
            rows = c.execute(sa.select(phases)).mappings().all()
        return {str(r["name"]): dict(r) for r in rows}

    def set_phase(self, name: str, action: str) -> str:
        """``open``, ``close`` or ``reveal`` a phase; returns what happened, in words.

        Raises:
            CompetitionError: an unknown phase, or an action its state does not allow.
        """
        phase = self.competition.phase(name)
        self.require()
        self.sync_phases()
        with self.write() as c:
            row = c.execute(sa.select(phases).where(phases.c.name == name)).mappings().one()
            state = row["state"]
            if action == "open":
                if state == OPEN:
                    return f"phase {name} is open already"
                c.execute(
                    phases.update()
                    .where(phases.c.name == name)
                    .values(state=OPEN, opened_at=_now(), closed_at=None)
                )
                return f"phase {name} is open: submissions are evaluated on it"
            if action == "close":
                if state != OPEN:
                    raise CompetitionError(f"phase {name} is {state}, not open; nothing to close")
                c.execute(
                    phases.update()
                    .where(phases.c.name == name)
                    .values(state=CLOSED, closed_at=_now())
                )
                return f"phase {name} is closed: no new submissions (queued ones still run)"
            if action == "reveal":
                if phase.public:
                    raise CompetitionError(f"phase {name} is public: its scores show already")
                if state != CLOSED:
                    raise CompetitionError(
                        f"phase {name} is {state}; close it before revealing: simcontinuum "
                        f"serve {self.competition.path} --close {name}"
                    )
                c.execute(phases.update().where(phases.c.name == name).values(revealed=True))
                return f"phase {name} is revealed: its board is public"
        raise CompetitionError(f"unknown phase action {action!r}; use open, close or reveal")

    def _accepting(self, c: Connection, now: float) -> list[str]:
        open_ = set(c.execute(sa.select(phases.c.name).where(phases.c.state == OPEN)).scalars())
        out = []
        for p in self.competition.phases:
            spec = p.spec
            if p.name not in open_:
                continue
            if spec.opens is not None and now < _epoch(spec.opens):
                continue
            if spec.closes is not None and now >= _epoch(spec.closes):
                continue
            out.append(p.name)
        return out

    # ------------------------------------------------------------------ submissions

    def submit(self, team: Team, filename: str, code: bytes, now: float | None = None) -> Accepted:
        """Store an upload and queue one job per phase that takes submissions now.

        Raises:
            LimitError: the team's daily or total limit is reached, or no phase is open.
        """
        now = _now() if now is None else now
        limits = self.competition.spec.limits
        day = now - (now % 86400.0)
        with self._submit_lock, self.write() as c:  # the lock: one team's uploads race no more
            c.execute(sa.select(teams.c.id).where(teams.c.id == team.id).with_for_update())
            open_phases = self._accepting(c, now)
            if not open_phases:
                raise LimitError("no phase takes submissions now; ask the organizer to open one")
            count = sa.select(sa.func.count()).select_from(submissions)
            total = c.execute(count.where(submissions.c.team_id == team.id)).scalar_one()
            if total >= limits.max_submissions_total:
                raise LimitError(
                    f"team {team.name} has used all its {limits.max_submissions_total} submissions"
                )
            today = c.execute(
                count.where(submissions.c.team_id == team.id, submissions.c.created_at >= day)
            ).scalar_one()
            if today >= limits.max_submissions_per_day:
                raise LimitError(
                    f"team {team.name} has made {today} submissions today (the limit is "
                    f"{limits.max_submissions_per_day} per UTC day); try again after midnight UTC"
                )
            sid = c.execute(
                submissions.insert().values(
                    team_id=team.id,
                    created_at=now,
                    filename=filename,
                    size=len(code),
                    sha256=hashlib.sha256(code).hexdigest(),
                    code=code,
                )
            ).inserted_primary_key
            assert sid is not None
            job_ids = []
            for p in open_phases:
                jid = c.execute(
                    jobs.insert().values(
                        submission_id=sid[0],
                        phase=p,
                        state=QUEUED,
                        attempts=0,
                        evaluations=0,
                        queued_at=now,
                    )
                ).inserted_primary_key
                assert jid is not None
                job_ids.append(int(jid[0]))
            position = self._position(c, job_ids[0])
        return Accepted(int(sid[0]), tuple(job_ids), tuple(open_phases), position)

    @staticmethod
    def _position(c: Connection, job_id: int) -> int:
        """1 + the number of jobs ahead of ``job_id`` (0 when it is no longer queued)."""
        state = c.execute(sa.select(jobs.c.state).where(jobs.c.id == job_id)).scalar()
        if state != QUEUED:
            return 0
        return int(
            c.execute(
                sa.select(sa.func.count())
                .select_from(jobs)
                .where(jobs.c.state == QUEUED, jobs.c.id <= job_id)
            ).scalar_one()
        )

    def position(self, job_id: int) -> int:
        """The queue position of a job (1 = next; 0 = not queued)."""
        with self.read() as c:
            return self._position(c, job_id)

    # ------------------------------------------------------------------ the queue

    def recover(self, owner: str | None = None) -> int:
        """Put back in the queue every job left ``running`` by a server that stopped (only
        ``owner``'s, if given: a server stopping gives back its own jobs, never those of the
        server that took its lease over); returns how many. Their attempts are not counted:
        the server stopped, not the submission."""
        where = [jobs.c.state == RUNNING]
        if owner is not None:
            where.append(jobs.c.owner == owner)
        with self.write() as c:
            result = c.execute(
                jobs.update()
                .where(*where)
                .values(
                    state=QUEUED,
                    owner=None,
                    started_at=None,
                    attempts=sa.case((jobs.c.attempts > 0, jobs.c.attempts - 1), else_=0),
                )
            )
            return int(result.rowcount or 0)

    def claim(self, owner: str, n: int, *, lease: str | None = None) -> list[Claimed]:
        """Take up to ``n`` queued jobs, oldest first, for ``owner``; with ``lease``, only
        while that holder holds the server lease (checked in the same transaction, so a
        server whose lease was taken over claims nothing)."""
        if n <= 0:
            return []
        with self.write() as c:
            if lease is not None:
                holder = c.execute(
                    sa.select(leases.c.holder)
                    .where(leases.c.name == SERVER_LEASE)
                    .with_for_update()
                ).scalar()
                if holder != lease:
                    return []
            rows = c.execute(
                sa.select(
                    jobs.c.id, jobs.c.phase, jobs.c.attempts, teams.c.name, submissions.c.code
                )
                .join(submissions, submissions.c.id == jobs.c.submission_id)
                .join(teams, teams.c.id == submissions.c.team_id)
                .where(jobs.c.state == QUEUED)
                .order_by(jobs.c.id)
                .limit(n)
                .with_for_update(skip_locked=True, of=jobs)
            ).all()
            out = []
            for r in rows:
                c.execute(
                    jobs.update()
                    .where(jobs.c.id == r.id, jobs.c.state == QUEUED)
                    .values(
                        state=RUNNING,
                        owner=owner,
                        started_at=_now(),
                        attempts=jobs.c.attempts + 1,
                        evaluations=jobs.c.evaluations + 1,
                    )
                )
                out.append(
                    Claimed(int(r.id), str(r.phase), str(r.name), bytes(r.code), r.attempts + 1)
                )
            return out

    def finish(
        self, job_id: int, owner: str, rows: Sequence[dict[str, Any]], seeds: Sequence[int]
    ) -> bool:
        """Write a job's runs and its final state in one transaction; False (and nothing
        written) when ``owner`` no longer holds it."""
        from simcontinuum.experiment.stats import mean_ci

        index = {int(s): i for i, s in enumerate(seeds)}
        with self.write() as c:
            held = c.execute(
                sa.select(jobs.c.id)
                .where(jobs.c.id == job_id, jobs.c.state == RUNNING, jobs.c.owner == owner)
                .with_for_update()
            ).first()
            if held is None:
                return False
            records = []
            for row in rows:
                clean = {k: v for k, v in row.items() if k not in ("team", "seed")}
                records.append(
                    {
                        "job_id": job_id,
                        "scenario": str(row.get("scenario")),
                        "seed_index": index.get(int(row.get("seed", -1)), -1),
                        "status": str(row.get("status", "failed")),
                        "score": _float(row.get("score")) if row.get("status") == "ok" else None,
                        "reason": row.get("reason"),
                        "wall_s": _float(row.get("wall_s")),
                        "policy_errors": row.get("policy_errors"),
                        "row": json.dumps(jsonable(clean), default=str),
                    }
                )
            if records:
                c.execute(runs.insert(), records)
            failed = [r for r in records if r["status"] != "ok"]
            scores = [float(r["score"]) for r in records if r["score"] is not None]
            mean, low, high = mean_ci(scores)
            values: dict[str, Any] = {
                "state": FAILED if failed or not records else SCORED,
                "reason": (failed[0]["reason"] or "failed") if failed else None,
                "finished_at": _now(),
                "score": None if failed else _float(mean),
                "ci_low": None if failed else _float(low),
                "ci_high": None if failed else _float(high),
                "wall_s": sum(r["wall_s"] or 0.0 for r in records),
                "owner": None,
            }
            if not records:
                values["reason"] = "the evaluation returned no runs"
            c.execute(jobs.update().where(jobs.c.id == job_id).values(**values))
            return True

    def retry_or_fail(self, job_id: int, owner: str, reason: str) -> str:
        """The evaluation of a job broke (not the submission's runs): queue it again, or, after
        :data:`MAX_ATTEMPTS`, fail it with ``reason``. Returns the new state ("" if stale)."""
        with self.write() as c:
            row = c.execute(
                sa.select(jobs.c.attempts)
                .where(jobs.c.id == job_id, jobs.c.state == RUNNING, jobs.c.owner == owner)
                .with_for_update()
            ).first()
            if row is None:
                return ""
            if int(row.attempts) >= MAX_ATTEMPTS:
                text = f"the evaluation failed {row.attempts} times; last: {reason}"
                c.execute(
                    jobs.update()
                    .where(jobs.c.id == job_id)
                    .values(state=FAILED, reason=text, finished_at=_now(), owner=None)
                )
                return FAILED
            c.execute(
                jobs.update()
                .where(jobs.c.id == job_id)
                .values(state=QUEUED, reason=f"retrying: {reason}", owner=None, started_at=None)
            )
            return QUEUED

    # ------------------------------------------------------------------ final submissions

    def _locked_by(self, c: Connection) -> str | None:
        """The closed (or revealed: opened again after its reveal) private phase that freezes
        every selection, or None."""
        private = [p.name for p in self.competition.phases if not p.public]
        if not private:
            return None
        closed = c.execute(
            sa.select(phases.c.name)
            .where(
                phases.c.name.in_(private),
                sa.or_(phases.c.state == CLOSED, phases.c.revealed == sa.true()),
            )
            .order_by(phases.c.name)
        ).first()
        return str(closed.name) if closed else None

    def finals(self, team_id: int) -> Finals:
        """The final-submission selection of a team."""
        with self.read() as c:
            return self._finals(c, team_id)

    def _finals(self, c: Connection, team_id: int) -> Finals:
        ids = c.execute(
            sa.select(finals.c.submission_id)
            .where(finals.c.team_id == team_id)
            .order_by(finals.c.submission_id)
        ).scalars()
        return Finals(
            tuple(int(i) for i in ids),
            self.competition.spec.final_submissions,
            self._locked_by(c) is not None,
        )

    def all_finals(self) -> dict[str, set[int]]:
        """``{team name: selected submission ids}`` of every team that selected any."""
        with self.read() as c:
            rows = c.execute(
                sa.select(teams.c.name, finals.c.submission_id).join(
                    teams, teams.c.id == finals.c.team_id
                )
            ).all()
        out: dict[str, set[int]] = {}
        for name, sid in rows:
            out.setdefault(str(name), set()).add(int(sid))
        return out

    def select_final(self, team: Team, submission_id: int, final: bool = True) -> Finals:
        """Mark a submission of ``team`` final (or not) for the private board; returns the
        team's selection after the change.

        Raises:
            SelectionError: not the team's submission (``missing``), no private phase, a
                private phase closed (selections are frozen), the limit reached, or a
                submission that was never evaluated on a private phase.
        """
        limit = self.competition.spec.final_submissions
        private = [p.name for p in self.competition.phases if not p.public]
        with self._submit_lock, self.write() as c:
            c.execute(sa.select(teams.c.id).where(teams.c.id == team.id).with_for_update())
            owner = c.execute(
                sa.select(submissions.c.team_id).where(submissions.c.id == submission_id)
            ).scalar()
            if owner != team.id:
                raise SelectionError(
                    f"no submission {submission_id} of team {team.name}", missing=True
                )
            if not private:
                raise SelectionError(
                    "this competition has no private phase: there is nothing to select for"
                )
            closed = self._locked_by(c)
            if closed is not None:
                raise SelectionError(
                    f"phase {closed} is closed (or revealed): the final submissions are locked "
                    "as they were"
                )
            current = self._finals(c, team.id).selected
            if not final:
                c.execute(finals.delete().where(finals.c.submission_id == submission_id))
                return self._finals(c, team.id)
            if submission_id in current:
                return self._finals(c, team.id)
            evaluated = c.execute(
                sa.select(sa.func.count())
                .select_from(jobs)
                .where(jobs.c.submission_id == submission_id, jobs.c.phase.in_(private))
            ).scalar_one()
            if not evaluated:
                raise SelectionError(
                    f"submission {submission_id} is not evaluated on a private phase (none was "
                    "open when it was uploaded); select another one"
                )
            if len(current) >= limit:
                shown = ", ".join(str(i) for i in current)
                raise SelectionError(
                    f"team {team.name} has selected {len(current)} final submissions already "
                    f"({shown}; at most {limit}); unselect one first, e.g. simcontinuum select "
                    f"{current[0]} --unselect"
                )
            c.execute(
                finals.insert().values(
                    submission_id=submission_id, team_id=team.id, selected_at=_now()
                )
            )
            return self._finals(c, team.id)

    # ------------------------------------------------------------------ reading

    def counts(self) -> dict[str, int]:
        """How many jobs are in each state (and submissions, runs)."""
        with self.read() as c:
            out = {
                str(s): int(n)
                for s, n in c.execute(
                    sa.select(jobs.c.state, sa.func.count()).group_by(jobs.c.state)
                ).all()
            }
            out["submissions"] = int(
                c.execute(sa.select(sa.func.count()).select_from(submissions)).scalar_one()
            )
            out["runs"] = int(c.execute(sa.select(sa.func.count()).select_from(runs)).scalar_one())
        return out

    def team_jobs(self, team_id: int, queued: Sequence[int] | None = None) -> list[dict[str, Any]]:
        """Every job of a team, newest submission first, with its queue position (from
        ``queued``, the ordered ids of :meth:`queued_ids`, when the caller has them)."""
        with self.read() as c:
            rows = (
                c.execute(
                    sa.select(
                        jobs.c.id,
                        jobs.c.phase,
                        jobs.c.state,
                        jobs.c.reason,
                        jobs.c.score,
                        jobs.c.ci_low,
                        jobs.c.ci_high,
                        jobs.c.queued_at,
                        jobs.c.finished_at,
                        jobs.c.attempts,
                        submissions.c.id.label("submission"),
                        submissions.c.filename,
                        submissions.c.created_at,
                        submissions.c.sha256,
                    )
                    .join(submissions, submissions.c.id == jobs.c.submission_id)
                    .where(submissions.c.team_id == team_id)
                    .order_by(submissions.c.id.desc(), jobs.c.id)
                )
                .mappings()
                .all()
            )
        out = [dict(r) for r in rows]
        order: Sequence[int] = ()
        if any(r["state"] == QUEUED for r in out):
            order = self.queued_ids() if queued is None else queued  # None: an exact answer
        for r in out:
            r["position"] = bisect.bisect_left(order, r["id"]) + 1 if r["state"] == QUEUED else 0
        return out

    def queued_ids(self) -> list[int]:
        """The ids of every queued job, in queue order (oldest first)."""
        with self.read() as c:
            return [
                int(i)
                for i in c.execute(
                    sa.select(jobs.c.id).where(jobs.c.state == QUEUED).order_by(jobs.c.id)
                ).scalars()
            ]

    def job_runs(self, job_id: int) -> list[dict[str, Any]]:
        """The runs of one job: scenario, seed index, status, score, reason, parts."""
        with self.read() as c:
            rows = (
                c.execute(
                    sa.select(runs)
                    .where(runs.c.job_id == job_id)
                    .order_by(runs.c.scenario, runs.c.seed_index)
                )
                .mappings()
                .all()
            )
        out = []
        for r in rows:
            d = dict(r)
            d["row"] = json.loads(d["row"])
            out.append(d)
        return out

    def job_of_team(self, job_id: int, team_id: int) -> dict[str, Any] | None:
        """A job, if it belongs to ``team_id`` (a token acts only for its team)."""
        with self.read() as c:
            row = (
                c.execute(
                    sa.select(jobs, submissions.c.filename, submissions.c.team_id)
                    .join(submissions, submissions.c.id == jobs.c.submission_id)
                    .where(jobs.c.id == job_id, submissions.c.team_id == team_id)
                )
                .mappings()
                .first()
            )
        return dict(row) if row else None

    def phase_jobs(self, phase: str) -> list[dict[str, Any]]:
        """Every finished job of a phase in submission order, with its team."""
        with self.read() as c:
            rows = (
                c.execute(
                    sa.select(
                        jobs.c.id,
                        jobs.c.state,
                        jobs.c.score,
                        jobs.c.ci_low,
                        jobs.c.ci_high,
                        jobs.c.finished_at,
                        jobs.c.reason,
                        submissions.c.id.label("submission"),
                        teams.c.name.label("team"),
                    )
                    .join(submissions, submissions.c.id == jobs.c.submission_id)
                    .join(teams, teams.c.id == submissions.c.team_id)
                    .where(jobs.c.phase == phase, jobs.c.state.in_((SCORED, FAILED)))
                    .order_by(submissions.c.id)
                )
                .mappings()
                .all()
            )
        return [dict(r) for r in rows]


def _lease_row(row: Any) -> LeaseRow | None:
    if row is None:
        return None
    return LeaseRow(
        str(row.holder),
        str(row.host),
        int(row.pid),
        str(row.pid_start),
        float(row.acquired_at),
        float(row.heartbeat_at),
        float(row.expires_at),
    )


def _utc(t: float) -> str:
    import datetime as dt

    return dt.datetime.fromtimestamp(t, dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def _held_text(row: LeaseRow, now: float) -> str:
    return (
        f"another server runs this competition: {row.holder} (pid {row.pid} on host "
        f"{row.host}), last heartbeat {max(0.0, now - row.heartbeat_at):.0f} s ago; its lease "
        f"expires at {_utc(row.expires_at)} (in {max(0.0, row.expires_at - now):.0f} s). Stop "
        "that server first; if it crashed, start again after that time, or now with --takeover "
        "(only if it really is not running)"
    )


def _epoch(when: Any) -> float:
    import datetime as dt

    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.timezone.utc)
    return float(when.timestamp())


def _safe(url: str) -> str:
    """A database URL without its password."""
    try:
        return sa.engine.make_url(url).render_as_string(hide_password=True)
    except sa.exc.ArgumentError:
        return url


__all__ = [
    "FAILED",
    "MAX_ATTEMPTS",
    "QUEUED",
    "RUNNING",
    "SCORED",
    "Accepted",
    "Claimed",
    "Finals",
    "LeaseHeld",
    "LeaseRow",
    "LimitError",
    "SelectionError",
    "Store",
    "Team",
    "hash_token",
    "new_token",
]
