"""uvicorn's h11 protocol with a header timeout and a strict header size limit, which uvicorn lacks.

uvicorn closes a keep-alive connection that stays idle after a response (timeout_keep_alive), but a
connection that never completes a request head (it sends nothing, or its headers a byte at a time) stays
open for as long as the client likes. Here such a connection is closed HEADER_TIMEOUT seconds after it was
opened or after its previous response was sent, unless a request is being served by then.

h11's `max_incomplete_event_size` (uvicorn's h11_max_incomplete_event_size, MAX_HEADER_BYTES) only bounds a
head that is still incomplete: one that arrives whole in a single read passes whatever its size. Here a
request line and headers longer than that get 431 and the connection is closed.

uvicorn gives its config to worker processes pickled (multiprocessing spawn), so the protocol class must be
found again by name: `protocol_for(seconds)` returns a subclass named after its timeout
(`GuardedH11Protocol_1500ms`), which this module's `__getattr__` rebuilds on import in any process.
"""

from __future__ import annotations

import asyncio
import functools
import re
from typing import Any, ClassVar

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

_NAMED = re.compile(r"GuardedH11Protocol_(\d+)ms")
_HEAD_END = b"\r\n\r\n"
_TOO_LARGE_TEXT = b"Request Header Fields Too Large"
_TOO_LARGE = (
    b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
    b"content-type: text/plain; charset=utf-8\r\n"
    b"content-length: " + str(len(_TOO_LARGE_TEXT)).encode("ascii") + b"\r\n"
    b"connection: close\r\n\r\n" + _TOO_LARGE_TEXT
)


class GuardedH11Protocol(H11Protocol):
    """H11Protocol that closes a connection still waiting for a complete request head after header_timeout,
    and refuses a request head longer than the configured h11_max_incomplete_event_size (431)."""

    header_timeout: ClassVar[float] = 10.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_head_timer()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._head_too_large(data):
            self._cancel_head_timer()
            self.transport.write(_TOO_LARGE)
            self.transport.close()
            return
        super().data_received(data)

    def _head_too_large(self, data: bytes) -> bool:
        """Would the request head being received (buffered + `data`, up to the blank line) pass the limit?"""
        limit = self.config.h11_max_incomplete_event_size
        if limit is None or self.conn.their_state is not h11.IDLE:
            return False
        buffered = self.conn.trailing_data[0] + data
        end = buffered.find(_HEAD_END)
        head = len(buffered) if end < 0 else end + len(_HEAD_END)
        return head > limit

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._arm_head_timer()

    def handle_websocket_upgrade(self, event: h11.Request) -> None:
        self._cancel_head_timer()  # the connection belongs to the WebSocket protocol from here on
        super().handle_websocket_upgrade(event)

    def _arm_head_timer(self) -> None:
        self._cancel_head_timer()
        self._head_timer = self.loop.call_later(self.header_timeout, self._head_timed_out)

    def _cancel_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        serving = self.cycle is not None and not self.cycle.response_complete
        if serving or self.transport.is_closing():
            return  # a request head arrived in time; its response re-arms the timer
        try:
            self.conn.send(h11.ConnectionClosed())
        except h11.LocalProtocolError:
            pass
        self.transport.close()


@functools.cache
def _subclass(milliseconds: int) -> type[GuardedH11Protocol]:
    name = f"GuardedH11Protocol_{milliseconds}ms"
    attrs = {"header_timeout": milliseconds / 1000, "__module__": __name__, "__qualname__": name}
    return type(name, (GuardedH11Protocol,), attrs)


def protocol_for(header_timeout: float) -> type[GuardedH11Protocol]:
    """The protocol class with this header timeout (seconds, to the millisecond)."""
    return _subclass(max(1, round(header_timeout * 1000)))


def __getattr__(name: str) -> type[GuardedH11Protocol]:
    match = _NAMED.fullmatch(name)
    if match is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return _subclass(int(match.group(1)))
