"""wrk: installing it (Debian package `wrk`) when missing, and one run with a Lua script of POST bodies."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

THREADS = 2
TIMEOUT = "10s"

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


def write_script(bodies: list[dict[str, Any]], path: Path) -> Path:
    """A Lua script cycling through `bodies` (ASCII JSON inside Lua long strings)."""
    lua_bodies = []
    for body in bodies:
        text = json.dumps(body, ensure_ascii=True)  # ASCII only: safe inside a Lua long string
        if "]==]" in text:
            raise RuntimeError("a body contains the Lua long-string terminator ]==]")
        lua_bodies.append(f"  [==[{text}]==],")
    path.write_text(LUA % "\n".join(lua_bodies), encoding="utf-8")
    return path


def run_wrk(url: str, script: Path, connections: int, seconds: int, label: str = "") -> dict[str, Any]:
    """One wrk run; request count, duration, errors by kind and percentiles come from the done() hook."""
    cmd = [
        "wrk",
        f"-t{min(THREADS, connections)}",
        f"-c{connections}",
        f"-d{seconds}s",
        "--timeout",
        TIMEOUT,
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
        f"  {label:<8} wrk -c{connections:<3} {script.stem}: {result['req_per_s']:,.1f} req/s, "
        f"p50 {p50:.1f} ms, p95 {p95:.1f} ms, p99 {p99:.1f} ms, errors {result['errors']}",
        flush=True,
    )
    return result
