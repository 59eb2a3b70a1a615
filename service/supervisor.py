"""WORKERS > 1: load the model once, then fork the workers, so that they share its memory and start at once.

Each worker listens on its own SO_REUSEPORT socket bound to the master's address, so the kernel spreads the
connections over the workers.

uvicorn's own supervisor *spawns* each worker: a fresh interpreter that imports scikit-learn and unpickles
the bundle again (≈ 2.5 s and ≈ 500 MB each, nothing shared). Here the master imports the app and loads the
bundle the serving pointer names, freezes the garbage collector's view of those objects (`gc.freeze()`: a
collection in a worker would otherwise write to every page of them and un-share it), and forks. A worker
finds the preloaded model (service/preload.py), smoke-checks it and serves within a fraction of a second;
its later reloads load from disk as before. A worker that dies is replaced by a new fork of the master,
which still holds the preloaded model, so the replacement is serving again in well under a second.

Signals: SIGTERM / SIGINT / SIGQUIT stop the workers gracefully (uvicorn's own shutdown: in-flight requests
finish) and then the master; workers that have not exited after `SHUTDOWN_GRACE` seconds are killed.
"""

from __future__ import annotations

import gc
import logging
import os
import signal
import socket
import sys
import time
from collections.abc import Callable
from types import FrameType

import uvicorn

log = logging.getLogger("uvicorn.error")
SHUTDOWN_GRACE = 30.0
RESPAWN_PAUSE = 0.5  # between replacing workers that die at once, so a crash loop cannot spin the CPU


class ForkingSupervisor:
    """Keeps `workers` forked children serving `config` on the shared `sock`."""

    def __init__(self, config: uvicorn.Config, sock: socket.socket, workers: int, preload: Callable[[], None]):
        self.config = config
        self.sock = sock
        self.workers = workers
        self.preload = preload
        self.children: set[int] = set()
        self.stopping = False

    # ------------------------------------------------------------------------------------- master
    def run(self) -> int:
        self.preload()
        gc.collect()
        gc.freeze()  # objects made so far stay out of the workers' collections (copy-on-write stays shared)
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGQUIT):
            signal.signal(sig, self._on_stop)
        log.info("Started parent process [%d]", os.getpid())
        for _ in range(self.workers):
            self._spawn()
        last_respawn = 0.0
        while self.children:
            try:
                pid, status = os.wait()
            except ChildProcessError:
                break
            except InterruptedError:
                continue
            self.children.discard(pid)
            if self.stopping:
                continue
            log.warning("Child process [%d] died (%s); starting a new one", pid, _describe(status))
            pause = RESPAWN_PAUSE - (time.monotonic() - last_respawn)
            if pause > 0:
                time.sleep(pause)
            last_respawn = time.monotonic()
            if not self.stopping:
                self._spawn()
        log.info("Stopping parent process [%d]", os.getpid())
        return 0

    def _on_stop(self, signum: int, frame: FrameType | None) -> None:
        if self.stopping:
            return
        self.stopping = True
        for pid in list(self.children):
            _signal(pid, signal.SIGTERM)
        signal.signal(signal.SIGALRM, self._on_grace_over)
        signal.alarm(int(SHUTDOWN_GRACE))

    def _on_grace_over(self, signum: int, frame: FrameType | None) -> None:
        for pid in list(self.children):
            _signal(pid, signal.SIGKILL)

    def _spawn(self) -> None:
        pid = os.fork()
        if pid == 0:
            self._child()  # never returns
        self.children.add(pid)

    # ------------------------------------------------------------------------------------- worker
    def _child(self) -> None:
        code = 1
        try:
            for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGQUIT, signal.SIGALRM):
                signal.signal(sig, signal.SIG_DFL)  # uvicorn installs its own handlers in Server.run
            server = uvicorn.Server(self.config)
            server.run(sockets=[self._own_socket()])
            code = 0 if server.started else 3
        except BaseException:  # a worker must never fall back into the master's loop
            logging.getLogger("uvicorn.error").exception("worker %d failed", os.getpid())
        finally:
            try:
                import atexit

                atexit._run_exitfuncs()  # e.g. prometheus_client's mark_process_dead for this worker
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)

    def _own_socket(self) -> socket.socket:
        """This worker's listening socket on the master's address (SO_REUSEPORT): the kernel hands each new
        connection to one worker's socket, spreading them. One shared socket let whichever worker woke first
        accept a whole burst: 8 keep-alive clients all landed on one worker, the other stayed idle."""
        address = self.sock.getsockname()
        own = socket.socket(self.sock.family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        own.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        own.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        own.bind(address)
        self.sock.close()  # the master's stays open: it holds the port while workers come and go
        return own


def _signal(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


def _describe(status: int) -> str:
    if os.WIFSIGNALED(status):
        return f"signal {signal.Signals(os.WTERMSIG(status)).name}"
    return f"exit code {os.waitstatus_to_exitcode(status)}"
