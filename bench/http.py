"""HTTP figures: ours (`python -m service`) and the ceiling (`python -m bench.ceiling`) under the same wrk runs.

Both servers run at once on free loopback ports with the same number of uvicorn workers; each scenario is run
against ours and then against the ceiling, so load from other processes on a shared machine falls on both
alike. Start-up is timed here (process start to the first /ready 200, and to every worker's "Application
startup complete"), memory is VmHWM and Pss summed over the uvicorn master and all its descendants.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.wrk import run_wrk, write_script

ROOT = Path(__file__).resolve().parent.parent
WORKERS = 2
READY_TIMEOUT_S = 120.0
POLL_S = 0.05
WARMUP_S = 3
SCENARIOS = (("single16", "singles", 16), ("single64", "singles", 64), ("batch100", "batches", 8))
BATCH = 100
STARTUP_LINE = "Application startup complete"
LOAD_SECONDS = re.compile(r'"load_seconds":\s*([0-9.]+)')  # our workers' model_loaded log event, if present
PROBE_S = 3  # the one-connection probe: per-request cost with no queueing


@dataclass
class Server:
    name: str
    proc: subprocess.Popen[bytes]
    url: str
    log_path: Path
    ready_s: float = 0.0  # process start -> first /ready 200
    all_workers_s: float = 0.0  # process start -> every worker has finished its start-up
    load_s: list[float] = field(default_factory=list)  # model load time per worker, from the log (ours only)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(name: str, module: str, tmp: Path, workers: int, env_extra: dict[str, str]) -> Server:
    """`python -m <module>` on a free loopback port; returns once /ready answered 200 and every worker
    logged its start-up, with both times measured from just before the process was started."""
    import httpx

    port = free_port()
    env = {
        **os.environ,
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "WORKERS": str(workers),
        "LOG_LEVEL": "info",
        **env_extra,
    }
    log_path = tmp / f"{name}.log"
    url = f"http://127.0.0.1:{port}"
    with log_path.open("wb") as log:
        start = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-m", module], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    server = Server(name, proc, url, log_path)
    deadline = start + READY_TIMEOUT_S
    while time.perf_counter() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{name} server exited with {proc.returncode}: {log_path.read_text()[-1500:]}")
        if not server.ready_s:
            try:
                if httpx.get(f"{url}/ready", timeout=2).status_code == 200:
                    server.ready_s = time.perf_counter() - start
            except httpx.TransportError:
                pass
        log_text = log_path.read_text(errors="replace") if server.ready_s else ""
        if log_text.count(STARTUP_LINE) >= workers:
            server.all_workers_s = time.perf_counter() - start
            server.load_s = [float(x) for x in LOAD_SECONDS.findall(log_text)]
            return server
        time.sleep(POLL_S)
    stop_server(server)
    raise RuntimeError(f"{name} server not ready within {READY_TIMEOUT_S:.0f} s: {log_path.read_text()[-1500:]}")


def stop_server(server: Server) -> None:
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


def peak_rss(pid: int) -> dict[str, Any]:
    """Memory of the uvicorn master and all its descendants, per process and summed: VmHWM (peak resident
    set; counts every shared page once in each process that maps it) and, read now, Pss (proportional set
    size: a page shared by k processes counts 1/k in each, so the sum counts it once). With forked workers
    that share the model, the Pss sum is the memory the server really holds."""
    per_process: list[dict[str, Any]] = []
    for p in descendants(pid):
        try:
            status = Path(f"/proc/{p}/status").read_text()
            rollup = Path(f"/proc/{p}/smaps_rollup").read_text()
            cmdline = Path(f"/proc/{p}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        hwm = re.search(r"^VmHWM:\s+(\d+) kB", status, re.M)
        pss = re.search(r"^Pss:\s+(\d+) kB", rollup, re.M)
        if hwm and pss:
            kind = "master" if p == pid else "worker"
            if "resource_tracker" in cmdline:
                kind = "resource_tracker"
            per_process.append(
                {"pid": p, "kind": kind, "mb": int(hwm.group(1)) / 1024, "pss_mb": int(pss.group(1)) / 1024}
            )
    return {
        "rss_mb": sum(x["mb"] for x in per_process),
        "pss_mb": sum(x["pss_mb"] for x in per_process),
        "processes": per_process,
    }


def bodies(texts: list[str]) -> dict[str, list[dict[str, Any]]]:
    singles = [{"comments": [{"id": f"c{i}", "text": t}]} for i, t in enumerate(texts[:300])]
    batches = [
        {"comments": [{"id": f"c{j}", "text": t} for j, t in enumerate(texts[i : i + BATCH])]}
        for i in range(0, len(texts) - BATCH + 1, BATCH)
    ]
    return {"singles": singles, "batches": batches}


def http_runs(model_dir: Path, texts: list[str], seconds: int) -> dict[str, Any]:
    """{"ours": {scenario: wrk result, ..., "rss": ..., "ready_s": ...}, "ceiling": {...}}"""
    out: dict[str, Any] = {"workers": WORKERS, "seconds": seconds}
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp_name:
        tmp = Path(tmp_name)
        scripts = {kind: write_script(b, tmp / f"{kind}.lua") for kind, b in bodies(texts).items()}
        servers: list[Server] = []
        try:
            ours_env = {
                "MODEL_DIR": str(model_dir),
                "API_KEYS": "",
                "DATABASE_URL": f"sqlite:///{tmp / 'feedback.db'}",
            }
            # One after the other: the start-up of one does not slow down the other's.
            servers.append(start_server("ours", "service", tmp, WORKERS, ours_env))
            servers.append(start_server("ceiling", "bench.ceiling", tmp, WORKERS, {}))
            for s in servers:
                print(f"  {s.name}: /ready 200 after {s.ready_s:.2f} s, all workers up after {s.all_workers_s:.2f} s")
            print(f"  (warm-up runs of {WARMUP_S} s, discarded)", flush=True)
            for s in servers:
                run_wrk(s.url, scripts["singles"], connections=16, seconds=WARMUP_S, label=s.name)
            results: dict[str, dict[str, Any]] = {s.name: {} for s in servers}
            print(f"  (one-connection probe, {PROBE_S} s)", flush=True)
            for s in servers:
                results[s.name]["single1"] = run_wrk(s.url, scripts["singles"], 1, PROBE_S, label=s.name)
            for scenario, kind, connections in SCENARIOS:
                for s in servers:
                    r = run_wrk(s.url, scripts[kind], connections=connections, seconds=seconds, label=s.name)
                    r["comments_per_s"] = r["req_per_s"] * (BATCH if kind == "batches" else 1)
                    results[s.name][scenario] = r
            for s in servers:
                results[s.name].update(
                    peak_rss(s.proc.pid), ready_s=s.ready_s, all_workers_s=s.all_workers_s, load_s=s.load_s
                )
        finally:
            for s in servers:
                stop_server(s)
    out.update(results)
    return out
