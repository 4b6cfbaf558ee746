"""Load benchmark of the competition server (not a test): many teams queue many submissions
at once on loopback, then page loads are timed while the evaluations run.

    python benchmarks/serve_load.py                       # 50 teams × 10 submissions
    python benchmarks/serve_load.py --teams 10 --per-team 3 --measure 20 --wait

It builds a throwaway competition (one tiny public scenario, one seed), starts
``simcontinuum serve`` in a subprocess on a free loopback port, uploads every submission
from concurrent clients, and then, for ``--measure`` seconds, has clients
load pages: by default as open browser pages do (every team's page polls its fragment every
2 s, ``--viewers`` leaderboards poll every 3 s, with a full reload now and then), or with
``--mode saturate`` back to back without a pause. It
prints the upload and page-load latency percentiles and checks that nothing was lost:
every upload answered 202, the database holds exactly those submissions and jobs, and (with
``--wait``) every job ends scored. Numbers depend on the machine; nothing here is asserted
on time.
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import json
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from serve_support import (  # noqa: E402 - the tests' helpers: one way to build a competition
    FIRST_FIT,
    SECRET,
    http,
    multipart,
    start_server,
    write_competition,
)


def _pct(values: list[float], q: float) -> float:
    xs = sorted(values)
    if not xs:
        return float("nan")
    k = min(len(xs) - 1, max(0, round(q / 100 * (len(xs) - 1))))
    return xs[k]


def _summary(name: str, ms: list[float]) -> str:
    return (
        f"{name:<18} n={len(ms):>6}  p50 {_pct(ms, 50):7.1f} ms  p95 {_pct(ms, 95):7.1f} ms  "
        f"p99 {_pct(ms, 99):7.1f} ms  max {max(ms) if ms else float('nan'):7.1f} ms"
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--teams", type=int, default=50)
    ap.add_argument("--per-team", type=int, default=10)
    ap.add_argument("--workers", type=int, default=2, help="evaluations at once")
    ap.add_argument(
        "--viewers",
        type=int,
        default=10,
        help="leaderboard watchers (live), or clients in a closed loop (saturate)",
    )
    ap.add_argument(
        "--mode",
        choices=("live", "saturate"),
        default="live",
        help="live: open pages polling as live.js does; saturate: page loads "
        "back to back, no pause",
    )
    ap.add_argument("--measure", type=float, default=60.0, help="seconds of page loads")
    ap.add_argument("--wait", action="store_true", help="then wait until every job is done")
    ap.add_argument("--keep", action="store_true", help="keep the competition folder (log, db)")
    ap.add_argument("--json", metavar="FILE", help="also write the numbers here")
    args = ap.parse_args()
    os.environ["SIMCONTINUUM_COMPETITION_SECRET"] = SECRET

    from simcontinuum.serve.config import load_competition
    from simcontinuum.serve.store import Store

    work = Path(tempfile.mkdtemp(prefix="simcontinuum-load-"))
    limits = {
        "wall_s": 120,
        "cpu_s": 60,
        "memory_mib": 1024,
        "max_upload_kib": 64,
        "max_submissions_per_day": args.per_team,
        "max_submissions_total": args.per_team,
    }
    path = write_competition(
        work, limits=limits, workers=args.workers, rate_limit_per_minute=1_000_000
    )
    doc = path.read_text().replace("seeds: 2", "seeds: 1")
    path.write_text(doc)
    comp = load_competition(path)
    store = Store(comp.database_url(), comp)
    store.create()
    tokens = [store.add_team(f"team{i:02d}") for i in range(args.teams)]
    store.set_phase("public", "open")
    store.close()

    srv = start_server(path)
    print(
        f"server {srv.url}, {args.teams} teams × {args.per_team} submissions, "
        f"{args.workers} workers; log {srv.log}"
    )
    body, ctype = multipart("policy.py", FIRST_FIT.encode())
    up_ms: list[float] = []
    statuses: list[int] = []

    def submit(token: str) -> None:
        t0 = time.perf_counter()
        status, _, _ = http(
            srv.url + "/api/submissions", token=token, data=body, headers={"Content-Type": ctype}
        )
        up_ms.append((time.perf_counter() - t0) * 1000)
        statuses.append(status)

    started = time.perf_counter()
    with cf.ThreadPoolExecutor(max_workers=32) as pool:
        list(pool.map(submit, [t for t in tokens for _ in range(args.per_team)]))
    upload_s = time.perf_counter() - started
    print(
        f"queued {len(statuses)} uploads in {upload_s:.1f} s "
        f"({sum(s == 202 for s in statuses)} accepted)"
    )

    loads: dict[str, list[float]] = {}
    errors: list[str] = []
    stop = threading.Event()
    lock = threading.Lock()

    def load(page: str, token: str | None) -> None:
        t0 = time.perf_counter()
        status, _, _ = http(srv.url + page, token=token)
        ms = (time.perf_counter() - t0) * 1000
        with lock:
            loads.setdefault(page, []).append(ms)
            if status != 200:
                errors.append(f"{page}: {status}")

    def browser(
        polls: str, every: float, full: str, full_every: int, token: str | None, offset: float
    ) -> None:
        """What one open page does: live.js polls its fragment every few seconds; now and
        then the person reloads the whole page."""
        stop.wait(offset)
        n = 0
        while not stop.is_set():
            t0 = time.monotonic()
            load(full if n % full_every == 0 else polls, token)
            n += 1
            stop.wait(max(0.0, every - (time.monotonic() - t0)))

    def saturate(i: int) -> None:
        token = tokens[i % len(tokens)]
        while not stop.is_set():
            for page, auth in (
                ("/", None),
                ("/board", None),
                ("/team", token),
                ("/api/submissions", token),
            ):
                load(page, auth)

    if args.mode == "live":
        # every team has its team page open (fragment every 2 s, a reload every 20 s) and
        # --viewers people watch the leaderboard (fragment every 3 s, a reload every 30 s)
        specs = [
            ("/team/jobs-fragment", 2.0, "/team", 10, t, i * 2.0 / len(tokens))
            for i, t in enumerate(tokens)
        ]
        specs += [
            ("/board", 3.0, "/", 10, None, i * 3.0 / args.viewers) for i in range(args.viewers)
        ]
        threads = [threading.Thread(target=browser, args=sp) for sp in specs]
    else:
        threads = [threading.Thread(target=saturate, args=(i,)) for i in range(args.viewers)]
    for t in threads:
        t.start()
    time.sleep(args.measure)
    stop.set()
    for t in threads:
        t.join()
    with urllib.request.urlopen(srv.url + "/healthz") as r:
        counts = json.loads(r.read())["jobs"]
    print(f"after {args.measure:.0f} s of page loads: jobs {counts}")

    finished_s = None
    if args.wait:
        while True:
            with urllib.request.urlopen(srv.url + "/healthz") as r:
                counts = json.loads(r.read())["jobs"]
            if counts.get("queued", 0) + counts.get("running", 0) == 0:
                break
            time.sleep(2)
        finished_s = time.perf_counter() - started
        print(f"every job done {finished_s:.0f} s after the first upload: {counts}")
    srv.proc.send_signal(signal.SIGTERM)
    srv.proc.wait(timeout=60)
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)

    n = args.teams * args.per_team
    lost = []
    if sum(s == 202 for s in statuses) != n:
        lost.append(f"{n - sum(s == 202 for s in statuses)} uploads refused")
    if counts.get("submissions") != n:
        lost.append(f"{counts.get('submissions')} submissions stored, {n} sent")
    if args.wait and counts.get("scored") != n:
        lost.append(f"{counts.get('scored')} jobs scored of {n}")
    print(_summary("upload", up_ms))
    every = [ms for v in loads.values() for ms in v]
    for page, ms in loads.items():
        print(_summary(f"GET {page}", ms))
    print(_summary("every page load", every))
    print(
        f"page errors: {len(errors)}; nothing lost: {'yes' if not lost else 'NO: ' + '; '.join(lost)}"
    )
    if args.json:
        Path(args.json).write_text(
            json.dumps(
                {
                    "teams": args.teams,
                    "per_team": args.per_team,
                    "workers": args.workers,
                    "viewers": args.viewers,
                    "mode": args.mode,
                    "upload_s": upload_s,
                    "finished_s": finished_s,
                    "upload_p95_ms": _pct(up_ms, 95),
                    "page_p50_ms": _pct(every, 50),
                    "page_p95_ms": _pct(every, 95),
                    "page_p99_ms": _pct(every, 99),
                    "pages": {p: {"n": len(v), "p95_ms": _pct(v, 95)} for p, v in loads.items()},
                    "errors": len(errors),
                    "lost": lost,
                    "counts": counts,
                    "cpu_count": os.cpu_count(),
                    "load_avg": os.getloadavg(),
                },
                indent=2,
            )
        )
    return 0 if not lost and not errors else 1


if __name__ == "__main__":
    raise SystemExit(main())
