"""`python -m bench` (make bench): in-process and HTTP throughput/latency of the classifier, peak RSS.

In-process figures are measured pinned to one core with one BLAS/OpenMP thread; HTTP figures come from
wrk (installed from Debian if missing) against `python -m service` started here on a free loopback port.
Targets are printed beside the figures; a missed target never fails the run. Writes bench/results.md.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):  # before numpy is imported
    os.environ[_var] = "1"

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import re  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from datetime import UTC, datetime  # noqa: E402
from pathlib import Path  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results.md"
TARGETS = {
    "inproc_cps": (">=", 5000.0),
    "inproc_single_p99_ms": ("<=", 5.0),
    "http64_p99_ms": ("<=", 50.0),
    "http64_errors": ("<=", 0),
    "http_batch_cps": (">=", 3000.0),
    "rss_mb": ("<=", 500.0),
}


def verdict(key: str, value: float | None) -> str:
    if value is None:
        return "NOT MEASURED"
    op, target = TARGETS[key]
    ok = value >= target if op == ">=" else value <= target
    return "MET" if ok else "NOT MET"


def test_texts() -> list[str]:
    from training.datasets.corpus import load_corpus

    df = load_corpus()
    return df[df["split"] == "test"]["text"].astype(str).tolist()


def percentile(values: list[float], p: float) -> float:
    import numpy as np

    return float(np.percentile(np.asarray(values), p))


def in_process(model_dir: Path, texts: list[str], batch: int, singles: int) -> dict:
    """Pinned to core 0: cold and warm batched throughput, single-comment latency, lemma cache hit rate."""
    from training.runtime.bundle import load_bundle

    original = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {sorted(original)[0]})
    try:
        model, manifest = load_bundle(model_dir)
        lemmatizer = None
        for name, step in model.pipeline.named_steps["features"].transformer_list:
            if name == "words":
                lemmatizer = step.named_steps["lemmas"]
        model.classify(["прогрев"])

        def one_pass() -> float:
            start = time.perf_counter()
            for i in range(0, len(texts), batch):
                model.classify(texts[i : i + batch])
            return time.perf_counter() - start

        cold = len(texts) / one_pass()  # the lemma cache has never seen the test split
        warm_runs = [len(texts) / one_pass() for _ in range(3)]
        latencies = []
        for i in range(singles):
            text = texts[i % len(texts)]
            start = time.perf_counter()
            model.classify([text])
            latencies.append((time.perf_counter() - start) * 1000)
        stats = lemmatizer.cache_stats() if lemmatizer is not None else {}
    finally:
        os.sched_setaffinity(0, original)
    return {
        "model_version": manifest.get("version"),
        "n_texts": len(texts),
        "batch": batch,
        "cold_cps": cold,
        "inproc_cps": max(warm_runs),
        "warm_runs": warm_runs,
        "single_p50_ms": percentile(latencies, 50),
        "inproc_single_p99_ms": percentile(latencies, 99),
        "single_n": singles,
        "cache": stats,
    }


def http_runs(model_dir: Path, texts: list[str], seconds: int) -> dict:
    out: dict = {}
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        server = start_server(model_dir, Path(tmp), workers=2)
        try:
            singles = [{"comments": [{"id": f"c{i}", "text": t}]} for i, t in enumerate(texts[:300])]
            batches = [
                {"comments": [{"id": f"c{j}", "text": t} for j, t in enumerate(texts[i : i + 100])]}
                for i in range(0, len(texts) - 99, 100)
            ]
            print("  (warm-up run, discarded)", flush=True)
            run_wrk(server.url, singles, connections=16, seconds=3, tmp=Path(tmp))
            out["single16"] = run_wrk(server.url, singles, connections=16, seconds=seconds, tmp=Path(tmp))
            out["single64"] = run_wrk(server.url, singles, connections=64, seconds=seconds, tmp=Path(tmp))
            out["batch100"] = run_wrk(server.url, batches, connections=8, seconds=seconds, tmp=Path(tmp))
            out["batch100"]["comments_per_s"] = out["batch100"]["req_per_s"] * 100
            out["rss_mb"], out["rss_processes"] = peak_rss_mb(server.proc.pid)
        finally:
            stop_server(server)
    return out


def fmt(v: float | None, digits: int = 1) -> str:
    return "n/a" if v is None else f"{v:,.{digits}f}"


def report(inproc: dict, http: dict | None, http_error: str | None, seconds: int) -> str:
    cache = inproc["cache"]
    rows = [
        (
            f"In-process comments/s (1 core, batches of {inproc['batch']}, warm cache)",
            fmt(inproc["inproc_cps"]),
            "≥ 5,000",
            verdict("inproc_cps", inproc["inproc_cps"]),
        ),
        ("In-process comments/s (first pass, cold lemma cache)", fmt(inproc["cold_cps"]), "", ""),
        ("In-process single-comment latency p50, ms", fmt(inproc["single_p50_ms"], 2), "", ""),
        (
            "In-process single-comment latency p99, ms",
            fmt(inproc["inproc_single_p99_ms"], 2),
            "≤ 5",
            verdict("inproc_single_p99_ms", inproc["inproc_single_p99_ms"]),
        ),
        (
            "Lemmatizer cache hit rate (after all in-process runs)",
            f"{cache.get('hit_rate', 0):.1%} ({cache.get('hits', 0):,} hits, {cache.get('misses', 0):,} misses)",
            "",
            "",
        ),
    ]
    if http:
        s16, s64, b = http["single16"], http["single64"], http["batch100"]
        for label, r in (("16", s16), ("64", s64)):
            rows.append((f"HTTP single-comment, {label} connections: req/s", fmt(r["req_per_s"]), "", ""))
            rows.append(
                (
                    f"HTTP single-comment, {label} connections: p50 / p95 / p99 ms",
                    f"{fmt(r['p50_ms'], 2)} / {fmt(r['p95_ms'], 2)} / {fmt(r['p99_ms'], 2)}",
                    "p99 ≤ 50" if label == "64" else "",
                    verdict("http64_p99_ms", r["p99_ms"]) if label == "64" else "",
                )
            )
            rows.append(
                (
                    f"HTTP single-comment, {label} connections: errors (non-2xx + socket)",
                    str(r["errors"]),
                    "0" if label == "64" else "",
                    verdict("http64_errors", r["errors"]) if label == "64" else "",
                )
            )
        rows.append(
            (
                "HTTP batches of 100, 8 connections: comments/s",
                fmt(b["comments_per_s"]),
                "≥ 3,000",
                verdict("http_batch_cps", b["comments_per_s"]),
            )
        )
        rows.append(
            (
                "HTTP batches of 100: p50 / p95 / p99 ms, errors",
                f"{fmt(b['p50_ms'], 1)} / {fmt(b['p95_ms'], 1)} / {fmt(b['p99_ms'], 1)}, {b['errors']}",
                "",
                "",
            )
        )
        rows.append(
            (
                "Peak RSS of the server (master + 2 workers, VmHWM), MB",
                f"{fmt(http['rss_mb'])} ({http['rss_processes']} processes)",
                "≤ 500",
                verdict("rss_mb", http["rss_mb"]),
            )
        )
    else:
        rows.append(("HTTP benchmarks", f"not run: {http_error}", "", "NOT MEASURED"))
    cpu = next(
        (
            ln.split(":", 1)[1].strip()
            for ln in Path("/proc/cpuinfo").read_text().splitlines()
            if ln.startswith("model name")
        ),
        platform.processor(),
    )
    lines = [
        "# Benchmark results",
        "",
        f"Written by `make bench` on {datetime.now(UTC).isoformat(timespec='seconds')}; model "
        f"`{inproc['model_version']}`; {os.cpu_count()} CPUs ({cpu}); Python {platform.python_version()}.",
        f"Texts: the {inproc['n_texts']} test-split comments of data/comments.csv. In-process: pinned to one core, "
        "OMP/OPENBLAS/MKL threads = 1. HTTP: wrk (2 threads, --latency, --timeout 10s, Lua POST bodies, "
        f"{seconds} s per run) against `python -m service` with WORKERS=2 on loopback; wrk and the server "
        "share the machine's CPUs.",
        "",
        "| Measure | Value | Target | Verdict |",
        "|---|---|---|---|",
        *[f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows],
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--model-dir", type=Path, default=Path(os.environ.get("MODEL_DIR", ROOT / "models")))
    parser.add_argument("--seconds", type=int, default=int(os.environ.get("BENCH_SECONDS", "30")))
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--singles", type=int, default=2000)
    parser.add_argument("--skip-http", action="store_true")
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore")
    if not (args.model_dir / "latest").exists():
        print(f"error: no model in {args.model_dir} (run `make train`)", file=sys.stderr)
        return 2
    texts = test_texts()
    print(f"in-process: {len(texts)} test texts, batches of {args.batch}, {args.singles} single calls ...", flush=True)
    inproc = in_process(args.model_dir, texts, args.batch, args.singles)
    print(json.dumps({k: v for k, v in inproc.items() if k != "warm_runs"}, default=str), flush=True)
    http, http_error = None, None
    if not args.skip_http:
        if ensure_wrk():
            print(f"HTTP: wrk runs of {args.seconds} s (16 and 64 connections, batches of 100) ...", flush=True)
            try:
                http = http_runs(args.model_dir, texts, args.seconds)
            except RuntimeError as exc:
                http_error = str(exc)
                print(f"HTTP benchmark failed: {exc}", file=sys.stderr)
        else:
            http_error = "wrk is not installed and `apt-get install -y wrk` failed"
    else:
        http_error = "--skip-http"
    text = report(inproc, http, http_error, args.seconds)
    RESULTS.write_text(text, encoding="utf-8")
    print(text)
    print(f"written: {RESULTS.relative_to(ROOT)}")
    return 0


def ensure_wrk() -> bool:
    if shutil.which("wrk"):
        return True
    print("wrk not found: installing it with apt-get (Debian package `wrk`) ...", flush=True)
    sudo = [] if os.geteuid() == 0 else (["sudo", "-n"] if shutil.which("sudo") else None)
    if sudo is None:
        print(
            "error: wrk is missing and this user cannot run apt-get; install it: apt-get install -y wrk",
            file=sys.stderr,
        )
        return False
    for cmd in (["apt-get", "update"], ["apt-get", "install", "-y", "wrk"]):
        done = subprocess.run(
            [*sudo, *cmd], capture_output=True, text=True, env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        )
        if done.returncode != 0:
            tail = re.sub(r"\s+", " ", (done.stderr or done.stdout)[-300:])
            print(
                f"error: `{' '.join(cmd)}` failed ({tail}); install wrk by hand to run the HTTP benchmarks",
                file=sys.stderr,
            )
            return False
    return shutil.which("wrk") is not None


# --------------------------------------------------------------------------------------- HTTP helpers
LUA = """
local bodies = {
%s
}
local i = 0
local headers = {["Content-Type"] = "application/json"}
request = function()
  i = i %% #bodies + 1
  return wrk.format("POST", "/classify", headers, bodies[i])
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("BENCH_RESULT %%d %%d %%d %%d %%d %%d %%d %%.1f %%.1f %%.1f %%.1f %%.1f\\n",
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(95), latency:percentile(99), latency.max))
end
"""


class Server:
    def __init__(self, proc: subprocess.Popen, url: str, log_path: Path):
        self.proc, self.url, self.log_path = proc, url, log_path


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(model_dir: Path, tmp: Path, workers: int) -> Server:
    """`python -m service` on a free loopback port; returns when /ready answers 200."""
    import httpx

    port = free_port()
    env = {
        **os.environ,
        "MODEL_DIR": str(model_dir),
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "WORKERS": str(workers),
        "LOG_LEVEL": "info",
        "API_KEYS": "",
        "DATABASE_URL": f"sqlite:///{tmp / 'feedback.db'}",
    }
    log_path = tmp / "server.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "service"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}: {log_path.read_text()[-1500:]}")
        try:
            if httpx.get(f"{url}/ready", timeout=2).status_code == 200:
                time.sleep(2)  # give the second worker time to finish loading too
                return Server(proc, url, log_path)
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    stop_server(Server(proc, url, log_path))
    raise RuntimeError("server not ready within 120 s")


def stop_server(server: Server) -> None:
    import signal

    server.proc.send_signal(signal.SIGTERM)
    try:
        server.proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        server.proc.kill()
        server.proc.wait()


def descendants(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        for task in Path(f"/proc/{p}/task").glob("*"):
            try:
                todo += [int(c) for c in (task / "children").read_text().split()]
            except OSError:
                pass
    return out


def peak_rss_mb(pid: int) -> tuple[float, int]:
    """Sum of VmHWM (peak resident set) over the uvicorn master and all its descendants."""
    total_kb, n = 0, 0
    for p in descendants(pid):
        try:
            status = Path(f"/proc/{p}/status").read_text()
        except OSError:
            continue
        m = re.search(r"^VmHWM:\s+(\d+) kB", status, re.M)
        if m:
            total_kb += int(m.group(1))
            n += 1
    return total_kb / 1024, n


def run_wrk(url: str, bodies: list[dict], connections: int, seconds: int, tmp: Path) -> dict:
    """One wrk run with a Lua script cycling through POST bodies; percentiles from the done() hook."""
    lua_bodies = []
    for body in bodies:
        text = json.dumps(body, ensure_ascii=True)  # ASCII only: safe inside a Lua long string
        assert "]==]" not in text
        lua_bodies.append(f"  [==[{text}]==],")
    script = tmp / f"bench-{connections}-{len(bodies)}.lua"
    script.write_text(LUA % "\n".join(lua_bodies), encoding="utf-8")
    threads = min(2, connections)
    cmd = [
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{seconds}s",
        "--timeout",
        "10s",
        "--latency",
        "-s",
        str(script),
        url,
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60)
    m = re.search(r"BENCH_RESULT (.+)", done.stdout)
    if done.returncode != 0 or not m:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr[-500:] or done.stdout[-500:]}")
    f = m.group(1).split()
    requests, duration_us = int(f[0]), int(f[1])
    connect, read, write, status, timeout = (int(x) for x in f[2:7])
    p50, p90, p95, p99, pmax = (float(x) / 1000 for x in f[7:12])
    result = {
        "connections": connections,
        "requests": requests,
        "seconds": duration_us / 1e6,
        "req_per_s": requests / (duration_us / 1e6),
        "p50_ms": p50,
        "p90_ms": p90,
        "p95_ms": p95,
        "p99_ms": p99,
        "max_ms": pmax,
        "errors": connect + read + write + status + timeout,
        "errors_by_kind": {"connect": connect, "read": read, "write": write, "non2xx": status, "timeout": timeout},
    }
    print(
        f"  wrk -c{connections} ({len(bodies)} bodies): {result['req_per_s']:.1f} req/s, "
        f"p50 {p50:.1f} ms, p95 {p95:.1f} ms, p99 {p99:.1f} ms, errors {result['errors']}",
        flush=True,
    )
    return result


if __name__ == "__main__":
    sys.exit(main())
