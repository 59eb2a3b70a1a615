"""The soak's own server helpers: start `python -m service` on a free loopback port, stop it, find its workers.

Kept apart from bench/__main__.py (and from tests/): the soak needs only a subprocess, a /ready poll and the
master's children.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import IO

import httpx

ROOT = Path(__file__).resolve().parent.parent


class SoakError(RuntimeError):
    """The soak itself could not run (the server did not start, the model is missing, ...)."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def copy_models(src: Path, dest: Path) -> Path:
    """A copy of the bundle that models/latest names, plus the pointer, in `dest`; returns `dest`."""
    pointer = src / "latest"
    if not pointer.is_file():
        raise SoakError(f"no trained model: {pointer} is missing (run `make train`)")
    version = pointer.read_text(encoding="utf-8").strip()
    if not (src / version).is_dir():
        raise SoakError(f"{pointer} names {version!r}, which is not a directory in {src}")
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copytree(src / version, dest / version)
    shutil.copy2(pointer, dest / "latest")
    return dest


def start_service(env: dict[str, str], log: IO[bytes], ready_timeout: float = 180.0) -> tuple[subprocess.Popen, str]:
    """`python -m service` with `env` over this environment on a free port; returns once /ready is 200."""
    port = free_port()
    full_env = {**os.environ, "HOST": "127.0.0.1", "PORT": str(port), **env}
    proc = subprocess.Popen(
        [sys.executable, "-m", "service"], cwd=ROOT, env=full_env, stdout=log, stderr=subprocess.STDOUT
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + ready_timeout
    while True:
        if proc.poll() is not None:
            raise SoakError(f"the service exited with {proc.returncode} before it was ready")
        try:
            if httpx.get(f"{base}/ready", timeout=2).status_code == 200:
                return proc, base
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            stop_service(proc)
            raise SoakError(f"the service was not ready in {ready_timeout:.0f} s")
        time.sleep(0.3)


def stop_service(proc: subprocess.Popen, timeout: float = 20.0) -> None:
    """SIGTERM to the master (it stops its workers), SIGKILL if it does not exit in time."""
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def children(pid: int) -> list[int]:
    """The live child pids of `pid`, from /proc (Linux)."""
    out = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # Fields after the command (which may hold spaces) start after the last ')': state, ppid, ...
        fields = stat[stat.rindex(")") + 2 :].split()
        if fields[0] != "Z" and int(fields[1]) == pid:
            out.append(int(entry.name))
    return sorted(out)


def worker_pids(master: int) -> list[int]:
    """The worker processes: the master's children (forked by service/supervisor.py; with uvicorn's own
    supervisor, spawned by multiprocessing), never multiprocessing's resource tracker."""
    pids = []
    for pid in children(master):
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if "resource_tracker" not in cmd:
            pids.append(pid)
    return pids


def established(pids: list[int], port: int) -> dict[str, int]:
    """How many ESTABLISHED TCP connections on local `port` each process holds (from /proc/net/tcp{,6}), and
    under "not accepted" those no process holds yet (in the listen queue); "client ends": the connecting sides."""
    inodes: list[str] = []  # one per connection (0 for one not accepted yet: no socket file)
    clients = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            f = line.split()
            if f[3] != "01":  # ESTABLISHED only
                continue
            if int(f[1].rsplit(":", 1)[1], 16) == port:
                inodes.append(f[9])
            elif int(f[2].rsplit(":", 1)[1], 16) == port:
                clients += 1
    known, out, held = set(inodes), {}, 0
    for pid in pids:
        try:
            fds = [os.readlink(p) for p in Path(f"/proc/{pid}/fd").iterdir()]
        except OSError:
            continue
        out[str(pid)] = sum(1 for fd in fds if fd.startswith("socket:[") and fd[8:-1] in known)
        held += out[str(pid)]
    out["not accepted"] = len(inodes) - held
    out["client ends"] = clients
    return out
