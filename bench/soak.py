"""`python -m bench.soak` (make soak): the service under load, reloads, a killed worker and a schemathesis pass.

Against `python -m service` with WORKERS=2 and API_KEYS set, on a free loopback port, serving a copy of models/
in a temp dir:
1. `--seconds` of `--connections` connections of /classify (single comments and batches of 2-8 test texts);
2. meanwhile POST /admin/reload every `--reload-every` s, cycling valid copy (200), missing version (409),
   tampered copy (409); and the version each /classify answer was served with, after every valid reload;
3. `kill -9` of one worker halfway: the requests that failed in flight, and whether uvicorn brought a new
   worker up by itself within `--recovery-seconds` (measured, not assumed);
4. a bounded schemathesis pass (`--max-examples` per operation, check not_a_server_error) on /openapi.json.
Prints one table. Exit code: 0 clean, 1 when a 5xx was seen anywhere (also printed), 2 when the soak could
not run.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import secrets
import shutil
import statistics
import sys
import tempfile
import time
from collections import Counter
from dataclasses import asdict
from importlib.metadata import version
from pathlib import Path

from bench import soak_fuzz
from bench.soak_kill import KillReport, kill_and_watch
from bench.soak_load import Reload, Sample, Traffic, corpus_test_texts, run_traffic, summarize
from bench.soak_reload import MISSING, TAMPERED, VALID, reload_cycle
from bench.soak_server import ROOT, SoakError, copy_models, start_service, stop_service, worker_pids

AROUND_KILL = 2.0  # s after the kill in which a failed request that started after it is still the kill's


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=60.0, help="length of the load (default 60)")
    p.add_argument("--connections", type=int, default=64)
    p.add_argument("--workers", type=int, default=2, help="WORKERS of the service (default 2)")
    p.add_argument("--reload-every", type=float, default=2.0)
    p.add_argument("--kill-at", type=float, default=None, help="s into the load (default: half way)")
    p.add_argument("--recovery-seconds", type=float, default=10.0, help="the recovery deadline (default 10)")
    p.add_argument("--watch-seconds", type=float, default=40.0, help="how long a late recovery is still timed")
    p.add_argument("--max-examples", type=int, default=20, help="schemathesis examples per operation")
    p.add_argument("--seed", type=int, default=0, help="schemathesis seed")
    p.add_argument("--no-schemathesis", action="store_true")
    p.add_argument("--no-kill", action="store_true")
    p.add_argument("--model-dir", type=Path, default=ROOT / "models")
    p.add_argument("--keep", action="store_true", help="keep the temp dir (server log, schemathesis report)")
    return p.parse_args(argv)


# ------------------------------------------------------------------------------------------ analysis
def kill_attribution(samples: list[Sample], kill: KillReport) -> tuple[list[Sample], list[Sample], list[Sample]]:
    """Failed requests split into: in flight at the kill, started within AROUND_KILL s after it, the rest."""
    failed = [s for s in samples if s.failed]
    if not kill.at:
        return [], [], failed
    in_flight = [s for s in failed if s.start <= kill.at <= s.end]
    after = [s for s in failed if kill.at < s.start <= kill.at + AROUND_KILL]
    seen = {id(s) for s in in_flight + after}
    rest = [s for s in failed if id(s) not in seen]
    return in_flight, after, rest


def version_mixing(samples: list[Sample], reloads: list[Reload], load_end: float) -> tuple[int, float, int]:
    """After each valid reload answered 200 with V, until the next valid reload is sent: the /classify answers
    served by another version (count), the longest lag until the last of them, and the windows whose last
    second still saw one (not converged before the next swap)."""
    valid = [r for r in reloads if r.kind == VALID]
    stale, max_lag, unconverged = 0, 0.0, 0
    for i, r in enumerate(valid):
        if not r.ok:
            continue
        until = valid[i + 1].start if i + 1 < len(valid) else load_end
        late = [s for s in samples if r.end <= s.start < until and s.version and s.version != r.version]
        stale += len(late)
        if late:
            lag = max(s.start for s in late) - r.end
            max_lag = max(max_lag, lag)
            unconverged += lag >= (until - r.end) - 1.0
    return stale, max_lag, unconverged


def kinds(samples: list[Sample]) -> str:
    c = Counter(f"{s.error} ({s.detail})" if s.error else str(s.status) for s in samples)
    return ", ".join(f"{k} {n}" for k, n in sorted(c.items())) or "-"


def reload_rows(reloads: list[Reload]) -> list[tuple[str, str]]:
    rows = []
    for kind in (VALID, MISSING, TAMPERED):
        rs = [r for r in reloads if r.kind == kind]
        outcomes = Counter(str(r.status) if r.status is not None else r.error for r in rs)
        wrong = [r for r in rs if r.status == 200 and not r.ok]
        text = f"{sum(r.ok for r in rs)}/{len(rs)} as expected ({', '.join(f'{k}: {n}' for k, n in outcomes.items())})"
        if wrong:
            text += f"; {len(wrong)} answered 200 with another version"
        rows.append((f"reloads {kind} (expect {rs[0].expected if rs else '-'})", text))
    done = [r.end - r.start for r in reloads if r.end]
    if done:
        rows.append(("reload latency", f"median {statistics.median(done):.2f} s, max {max(done):.2f} s"))
    return rows


def table(rows: list[tuple[str, str]]) -> str:
    width = max(len(k) for k, _ in rows)
    lines = [f"| {'what'.ljust(width)} | result", f"|{'-' * (width + 2)}|{'-' * 40}"]
    return "\n".join(lines + [f"| {k.ljust(width)} | {v}" for k, v in rows])


def pct(values: list[float], q: float) -> float:
    return sorted(values)[min(len(values) - 1, int(q * len(values)))] if values else float("nan")


# ------------------------------------------------------------------------------------------ the run
def run(args: argparse.Namespace, tmp: Path) -> tuple[list[tuple[str, str]], int]:
    if not args.no_schemathesis and not soak_fuzz.available():
        raise SoakError("schemathesis is not installed: run `make setup` (it is in the dev extra)")
    texts = corpus_test_texts()
    model_dir = copy_models(args.model_dir, tmp / "models")
    cycle = reload_cycle(model_dir)
    api_key = secrets.token_urlsafe(16)
    env = {
        "WORKERS": str(args.workers),
        "API_KEYS": api_key,
        "MODEL_DIR": str(model_dir),
        "DATABASE_URL": f"sqlite:///{tmp / 'feedback.db'}",
        "LOG_LEVEL": "info",
    }
    log_path = tmp / "server.log"
    print(f"starting the service (WORKERS={args.workers}) on a copy of the model in {tmp} ...", flush=True)
    with log_path.open("wb") as log:
        proc, base = start_service(env, log)
    try:
        workers = worker_pids(proc.pid)
        print(f"{base}: master {proc.pid}, workers {workers}; load for {args.seconds:.0f} s ...", flush=True)
        kill = KillReport()
        kill_at = args.kill_at if args.kill_at is not None else args.seconds / 2

        async def side() -> None:
            if not args.no_kill:
                await kill_and_watch(
                    kill, master=proc.pid, base=base, api_key=api_key, log_path=log_path, delay=kill_at,
                    watch=max(args.watch_seconds, args.recovery_seconds), workers=args.workers,
                )  # fmt: skip

        async def traffic() -> tuple[Traffic, float, float]:
            loop = asyncio.get_running_loop()
            start = loop.time()
            t = await run_traffic(
                base, api_key, texts, seconds=args.seconds, connections=args.connections,
                reload_cycle=cycle, reload_every=args.reload_every, side_task=side,
            )  # fmt: skip
            return t, start, start + args.seconds

        t, load_start, load_end = asyncio.run(traffic())
        fuzz = None
        if not args.no_schemathesis:
            print(f"schemathesis, {args.max_examples} examples per operation ...", flush=True)
            fuzz = soak_fuzz.run_schemathesis(base, api_key, tmp / "schemathesis", max_examples=args.max_examples,
                                              seed=args.seed)  # fmt: skip
        master_alive = proc.poll() is None
        workers_end = worker_pids(proc.pid) if master_alive else []
    finally:
        stop_service(proc)

    if args.keep:
        dump(tmp, t, load_start, kill)
    load = [s for s in t.samples if s.start < load_end]
    summary = summarize(load)
    lat = [s.end - s.start for s in load if s.status == 200]
    in_flight, after, rest = kill_attribution(load, kill)
    stale, max_lag, unconverged = version_mixing(load, t.reloads, load_end)
    reload_5xx = sum(1 for r in t.reloads if r.status is not None and r.status >= 500)
    rows = [
        ("service", f"python -m service, WORKERS={args.workers}, uvicorn {version('uvicorn')}, API_KEYS set"),
        (
            f"load: requests ({args.connections} conns, {args.seconds:.0f} s)",
            f"{summary['requests']} ({summary['requests'] / args.seconds:.1f}/s); statuses {summary['statuses']}",
        ),
        ("load: latency of 200s", f"p50 {pct(lat, 0.5) * 1000:.0f} ms, p99 {pct(lat, 0.99) * 1000:.0f} ms"),
        ("load: errors (no answer / bad body)", ", ".join(f"{k} {n}" for k, n in summary["errors"].items()) or "0"),
        ("load: 5xx", str(summary["5xx"])),
    ]
    if kill.killed:
        lost = [r for r in t.reloads if r.error and r.start <= kill.at <= r.end]
        rows += [
            (f"kill -9 worker {kill.killed} at {kill.at - load_start:.1f} s", f"{len(in_flight)} failed in flight "
             f"({kinds(in_flight)}); {len(after)} started within {AROUND_KILL:.0f} s after it failed ({kinds(after)}); "
             f"reloads in flight failed: {len(lost)}"),
            ("client connections per worker at the kill", str(kill.connections)),
        ]  # fmt: skip
    rows.append(("load: failures not explained by the kill", f"{len(rest)} ({kinds(rest)})"))
    rows += reload_rows(t.reloads)
    rows.append(("reloads: 5xx", str(reload_5xx)))
    rows.append(
        (
            "mixed versions after a valid reload",
            f"{stale} answers from another version, max lag {max_lag:.2f} s, {unconverged} window(s) not converged",
        )
    )
    if fuzz is not None:
        rows.append(
            (
                "schemathesis requests",
                f"{fuzz.requests} (exit {fuzz.exit_code}); statuses {dict(sorted(fuzz.statuses.items()))}",
            )
        )
        rows.append(
            ("schemathesis 5xx / failed checks", f"{fuzz.n_5xx} / {len(fuzz.failures)} {fuzz.server_errors[:5]}")
        )
        rows.append(("schemathesis network errors", f"{len(fuzz.network_errors)} {fuzz.network_errors[:5]}"))
    if kill.killed:
        rows.append((f"recovered within {args.recovery_seconds:.0f} s", recovery_text(kill, args.recovery_seconds)))
    rows.append(("workers at the end", f"{workers_end} (master {'alive' if master_alive else 'DEAD'})"))
    n_5xx = summary["5xx"] + reload_5xx + (fuzz.n_5xx if fuzz else 0)
    rows.append(("verdict", "FAIL: 5xx seen" if n_5xx else "no 5xx"))
    return rows, 1 if n_5xx else 0


def dump(tmp: Path, t: Traffic, t0: float, kill: KillReport) -> None:
    """samples.csv, reloads.csv and kill.json (times in s from the start of the load) beside the server log."""
    (tmp / "kill.json").write_text(json.dumps({**asdict(kill), "at": kill.at - t0 if kill.at else None}))
    with (tmp / "samples.csv").open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["start", "end", "status", "error", "version", "detail"])
        w.writerows(
            [f"{s.start - t0:.3f}", f"{s.end - t0:.3f}", s.status, s.error, s.version, s.detail] for s in t.samples
        )
    with (tmp / "reloads.csv").open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["kind", "version", "start", "end", "status", "error", "served"])
        w.writerows(
            [r.kind, r.version, f"{r.start - t0:.3f}", f"{r.end - t0:.3f}", r.status, r.error, r.served]
            for r in t.reloads
        )


def recovery_text(kill: KillReport, within: float) -> str:
    if kill.respawned is None:
        return f"no: the master started no new worker in {kill.watched:.0f} s {kill.note}".strip()
    spawn = f"new worker {kill.respawned} after {kill.respawn_after:.1f} s"
    if kill.loaded_after is None:
        return f"no: {spawn}, but it had not loaded the model after {kill.watched:.0f} s"
    serving = f"{spawn}, model loaded after {kill.loaded_after:.1f} s, /ready and /classify 200: {kill.ready_ok}"
    return ("yes: " if kill.recovered(within) else "no (late): ") + serving


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.monotonic()
    tmp = Path(tempfile.mkdtemp(prefix="triage-soak-"))
    try:
        rows, code = run(args, tmp)
    except (SoakError, OSError, ValueError) as exc:
        print(f"soak could not run: {exc}", file=sys.stderr)
        return 2
    finally:
        if args.keep:
            print(f"kept {tmp} (server.log, schemathesis/)")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    print(table(rows))
    print(f"({time.monotonic() - started:.0f} s in all)")
    return code


if __name__ == "__main__":
    sys.exit(main())
