"""The uvicorn keyword arguments that come from the connection settings (service/settings.py).

`python -m service` runs uvicorn through `serve()` below, with these options:

- KEEP_ALIVE_TIMEOUT → `timeout_keep_alive`: an idle keep-alive connection is closed after it.
- HEADER_TIMEOUT → `http`: uvicorn's h11 protocol with a header timeout (service/http_protocol.py): a
  connection that has not sent a complete request line and headers that long after opening, or after its
  previous response, is closed. h11 is chosen explicitly (never httptools), so the size limit applies.
- MAX_HEADER_BYTES → `h11_max_incomplete_event_size`: a longer request line + headers gets 431 (that
  protocol's check) or h11's own 400, and the connection is closed.
- LIMIT_CONCURRENCY → `limit_concurrency`: with that many connections open or requests running in a worker,
  further requests get uvicorn's 503 (plain text, `Connection: close`).

BODY_TIMEOUT is not uvicorn's: the body guard in service/app.py answers 408 when a body is not in by then.
"""

from __future__ import annotations

import logging
import socket
import sys
from typing import Any

import uvicorn

from service.http_protocol import protocol_for
from service.settings import Settings


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for uvicorn.run / uvicorn.Config (none of them host, port, workers or logging)."""
    return {
        "http": protocol_for(settings.header_timeout),
        "timeout_keep_alive": settings.keep_alive_timeout,
        "limit_concurrency": settings.limit_concurrency,
        "h11_max_incomplete_event_size": settings.max_header_bytes,
    }


class TcpConfig(uvicorn.Config):
    """uvicorn's Config, except that the listening TCP socket is created as IPPROTO_TCP.

    With WORKERS > 1 uvicorn binds the socket itself with protocol 0, and asyncio sets TCP_NODELAY only on
    sockets whose protocol is IPPROTO_TCP: every keep-alive answer then waited ~40 ms for the client's
    delayed ACK (Nagle; uvicorn issue #3149). Accepted sockets inherit the listening socket's protocol.

    With `reuse_port` (the forking supervisor) the socket is bound with SO_REUSEPORT and only reserves the
    port: each worker listens on its own SO_REUSEPORT socket (service/supervisor.py), and the kernel spreads
    new connections over them.
    """

    reuse_port = False

    def bind_socket(self) -> socket.socket:
        if self.uds is not None or self.fd is not None:
            return super().bind_socket()
        family = socket.AF_INET6 if self.host and ":" in self.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if self.reuse_port:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        try:
            sock.bind((self.host, self.port))
        except OSError as exc:
            logging.getLogger("uvicorn.error").error(exc)
            sys.exit(3)  # uvicorn's STARTUP_FAILURE
        logging.getLogger("uvicorn.error").info("Uvicorn running on http://%s:%d", self.host, sock.getsockname()[1])
        sock.set_inheritable(True)
        return sock


def serve(app: str, settings: Settings, preload: bool = False, **kwargs: Any) -> None:
    """`uvicorn.run(app, ...)` with the options above and the TCP_NODELAY-friendly socket.

    With several workers and `preload`, the master loads the model and forks them (service/supervisor.py);
    without `preload` (the benchmark's bare ceiling app), uvicorn's own supervisor spawns them."""
    config = TcpConfig(app, **kwargs, **uvicorn_options(settings))
    server = uvicorn.Server(config=config)
    if config.workers > 1:
        config.reuse_port = preload
        sock = config.bind_socket()
        if preload:
            from service.supervisor import ForkingSupervisor

            sys.exit(ForkingSupervisor(config, sock, config.workers, lambda: _preload(settings)).run())
        from uvicorn.supervisors import Multiprocess

        Multiprocess(config, sockets=[sock]).run()
        return
    server.run()
    if not server.started:
        sys.exit(3)


def _preload(settings: Settings) -> None:
    """In the master, before forking: import the app's modules and load the model (both then shared)."""
    import service.app  # noqa: F401  (imported here: the workers inherit it instead of importing it again)
    from service.loading import smoke_check
    from service.preload import preload_latest

    preload_latest(settings.model_dir, check=smoke_check)
