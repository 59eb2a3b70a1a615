"""The API key, checked before any body is read (FastAPI parses a body before it runs route dependencies, so
without this an unauthenticated client would learn, say, that its JSON is malformed: 400 instead of 401).

Every path is protected except the public ones below; /admin/* follows the admin rule (403 while API_KEYS is
empty, see service/deps.py). The answers are exactly those of `require_api_key` and `require_admin_key`,
which stay on the routes (defence in depth, and the OpenAPI description). A refused body is read and
discarded, bounded, before the answer goes out (service/refusal.py), so that clients still sending it hear it.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, quote, unquote_to_bytes

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from service.deps import admin_key_refusal, api_key_refusal
from service.errors import json_error
from service.refusal import DISCARD_MULTIPLE, app_path, first_header, refuse
from service.settings import Settings
from training.runtime.perspective import google_error

# Public whatever the method (a wrong method gets its 405). /ui/classify checks the key in its form itself.
PUBLIC_PATHS = frozenset(
    {
        "/health",
        "/ready",
        "/metrics",
        "/labels",
        "/version",
        "/docs",
        "/docs/oauth2-redirect",
        "/redoc",
        "/openapi.json",
        "/ui/classify",
        "/vk/callback",  # VK cannot send our key: the route checks VK_SECRET (constant-time) instead
    }
)
PUBLIC_READ_PATHS = frozenset({"/ui"})  # GET and HEAD only
PUBLIC_READ_PREFIXES = ("/ui/static/",)
READ_METHODS = frozenset({"GET", "HEAD"})
ADMIN_PREFIX = "/admin"
# Perspective clients send their key as `?key=` (Perspective's own convention); the header works there too.
QUERY_KEY_PATHS = frozenset({"/v1alpha1/comments:analyze"})
PERSPECTIVE_KEY_INVALID = "API key not valid. Please pass a valid API key."


def is_public(method: str, path: str) -> bool:
    if path in PUBLIC_PATHS:
        return True
    return method in READ_METHODS and (path in PUBLIC_READ_PATHS or path.startswith(PUBLIC_READ_PREFIXES))


def is_admin(path: str) -> bool:
    return path == ADMIN_PREFIX or path.startswith(ADMIN_PREFIX + "/")


def query_key(scope: Scope) -> bytes:
    """The raw bytes of the first `key` query parameter (percent-decoded), or b""."""
    for name, value in parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True):
        if name == "key":
            return unquote_to_bytes(quote(value, safe="", encoding="latin-1"))
    return b""


class AuthGuardMiddleware:
    """401 (or 403 for /admin/* without configured keys) before the body guard or any route runs."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.settings = settings
        self.max_discard_bytes = DISCARD_MULTIPLE * settings.max_body_bytes
        self.timeout = settings.body_timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = app_path(scope)
        if is_public(scope["method"], path):
            await self.app(scope, receive, send)
            return
        given = first_header(scope, b"x-api-key") or b""
        if not given and path in QUERY_KEY_PATHS:
            given = query_key(scope)
        check = admin_key_refusal if is_admin(path) else api_key_refusal
        refusal = check(given, self.settings)
        if refusal is None:
            await self.app(scope, receive, send)
            return
        status, message = refusal
        response = json_error(status, message)
        if path in QUERY_KEY_PATHS:  # Perspective clients parse Google's error shape
            response = JSONResponse(google_error(status, PERSPECTIVE_KEY_INVALID), status_code=status)
        await refuse(
            scope,
            receive,
            send,
            response,
            max_discard_bytes=self.max_discard_bytes,
            timeout=self.timeout,
        )
