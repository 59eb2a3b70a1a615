"""Refusing a request before its body is read, so that the client hears the answer.

A server that answers and closes while the client is still sending makes the client's kernel see a reset:
curl and `Expect: 100-continue` clients wait for the answer and read it, but Python's urllib, requests and
most other clients are still writing the body and get "connection reset" or "broken pipe" instead of the
413 or 401. So an early refusal first reads and discards the rest of the body, bounded in bytes
(DISCARD_MULTIPLE × MAX_BODY_BYTES) and in time (BODY_TIMEOUT), and answers only then. A body declared
longer than the bound, a client that waits for `100 Continue`, or a body not over within the time is not read:
the answer goes out at once with `Connection: close`.
"""

from __future__ import annotations

import anyio
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

DISCARD_MULTIPLE = 4  # at most this many times MAX_BODY_BYTES is read to be thrown away


def app_path(scope: Scope) -> str:
    """The path as the app's routes see it (without the root path a proxy may mount the service under)."""
    path: str = scope.get("path", "")
    root: str = scope.get("root_path", "")
    if root and path.startswith(root):
        return path[len(root) :] or "/"
    return path


def first_header(scope: Scope, name: bytes) -> bytes | None:
    """The first value of header `name` (lower case), as the client sent it."""
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return value
    return None


def declared_length(scope: Scope) -> int | None:
    """Content-Length as an int; None when absent or not a number (the body guard answers 400 for that)."""
    raw = first_header(scope, b"content-length")
    try:
        return int(raw) if raw is not None else None
    except ValueError:
        return None


def may_have_body(scope: Scope) -> bool:
    return (declared_length(scope) or 0) > 0 or first_header(scope, b"transfer-encoding") is not None


async def discard_body(receive: Receive, max_bytes: int, timeout: float) -> bool:
    """Read and drop the rest of the request body; True when its end was reached (or the client left),
    False when `max_bytes` or `timeout` ran out first."""
    total = 0
    with anyio.move_on_after(timeout):
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return True
            total += len(message.get("body", b""))
            if not message.get("more_body", False):
                return True
            if total > max_bytes:
                return False
    return False


async def refuse(
    scope: Scope,
    receive: Receive,
    send: Send,
    response: Response,
    *,
    max_discard_bytes: int,
    timeout: float,
    close: bool = False,
    body_ended: bool = False,
) -> None:
    """Send `response` after discarding what is left of the body (see the module docstring); `body_ended`
    says the caller has already received its last part. The connection is kept only when the body was read
    to its end and `close` is False."""
    complete = True
    if not body_ended and may_have_body(scope):
        declared = declared_length(scope)
        waiting_for_continue = (first_header(scope, b"expect") or b"").lower() == b"100-continue"
        if waiting_for_continue or (declared is not None and declared > max_discard_bytes):
            complete = False
        else:
            complete = await discard_body(receive, max_discard_bytes, timeout)
    if close or not complete:
        response.headers["Connection"] = "close"
    await response(scope, receive, send)
