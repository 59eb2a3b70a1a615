"""Outgoing VK API calls (the auto-hide's deleteComment): form POST to `{VK_API_BASE_URL}/{method}`.

VK answers 200 with `{"response": ...}` or `{"error": {"error_code", "error_msg", "request_params"}}`. Network
errors, HTTP 5xx/429 and the error codes VK documents as transient (1 unknown error, 6 too many requests per
second, 9 flood control, 10 internal server error) are retried with exponential backoff (`backoff_seconds`
doubled per attempt, capped at `max_backoff_seconds`, at most `max_attempts` calls); any other error is final.
The caller stores the last answer whatever it is; the comment itself is already stored. The access token is
sent in the form body (never in the URL, which proxies log) and is never kept in a stored answer.
"""

from __future__ import annotations

import json
import logging
import re
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

RETRY_CODES = frozenset({1, 6, 9, 10})
MAX_ANSWER_BYTES = 1_000_000
METHOD_RE = re.compile(r"^[a-z]+\.[A-Za-z]+$")
SECRET_PARAMS = frozenset({"access_token"})
log = logging.getLogger("service.vk")


@dataclass(frozen=True)
class VkAnswer:
    """The outcome of one API call after its retries: VK's last answer (or the transport error) as stored."""

    method: str
    ok: bool
    attempts: int
    body: dict[str, Any]

    @property
    def error_code(self) -> int | None:
        error = self.body.get("error")
        code = error.get("error_code") if isinstance(error, dict) else None
        return code if isinstance(code, int) else None


class _Transient(Exception):
    """A failure worth another attempt; `body` is what to store if it is the last one."""

    def __init__(self, body: dict[str, Any]):
        super().__init__(str(body))
        self.body = body


def _scrub(body: dict[str, Any]) -> dict[str, Any]:
    """VK echoes the request's parameters in errors: keep them, minus the token."""
    error = body.get("error")
    if isinstance(error, dict) and isinstance(error.get("request_params"), list):
        params = [p for p in error["request_params"] if not (isinstance(p, dict) and p.get("key") in SECRET_PARAMS)]
        body = {**body, "error": {**error, "request_params": params}}
    return body


class VkClient:
    """One community token, one API version; `call` is blocking (run it off the event loop)."""

    def __init__(
        self,
        base_url: str,
        access_token: str,
        api_version: str,
        *,
        max_attempts: int = 5,
        backoff_seconds: float = 0.5,
        max_backoff_seconds: float = 8.0,
        timeout: float = 10.0,
        sleep: Callable[[float], None] = time.sleep,
        observe: Callable[[str, str], None] | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.access_token = access_token
        self.api_version = api_version
        self.max_attempts = max(1, max_attempts)
        self.backoff_seconds = backoff_seconds
        self.max_backoff_seconds = max_backoff_seconds
        self.timeout = timeout
        self.sleep = sleep
        self.observe = observe  # (method, "ok" | "retry" | "error") per attempt, for the metrics

    def delay(self, attempt: int) -> float:
        """Seconds to wait after failed attempt number `attempt` (1-based)."""
        return min(self.max_backoff_seconds, self.backoff_seconds * 2 ** (attempt - 1))

    def longest_call_seconds(self) -> float:
        """The longest one `call` can take: every attempt timing out, with every backoff in between."""
        waits = sum(self.delay(attempt) for attempt in range(1, self.max_attempts))
        return self.max_attempts * self.timeout + waits

    def call(self, method: str, params: dict[str, Any]) -> VkAnswer:
        if not METHOD_RE.match(method):
            raise ValueError(f"invalid VK API method name {method!r}")
        body: dict[str, Any] = {}
        for attempt in range(1, self.max_attempts + 1):
            try:
                body = self._once(method, params)
            except _Transient as exc:
                body = exc.body
                last = attempt == self.max_attempts
                self._note(method, "error" if last else "retry", attempt, body)
                if last:
                    break
                self.sleep(self.delay(attempt))
                continue
            ok = "error" not in body
            self._note(method, "ok" if ok else "error", attempt, body)
            return VkAnswer(method, ok, attempt, body)
        return VkAnswer(method, False, self.max_attempts, body)

    def _note(self, method: str, outcome: str, attempt: int, body: dict[str, Any]) -> None:
        if self.observe is not None:
            self.observe(method, outcome)
        if outcome != "ok":
            found = body.get("error")
            error: dict[str, Any] = found if isinstance(found, dict) else {}
            log.warning(
                json.dumps(
                    {
                        "event": "vk_api_call_failed",
                        "method": method,
                        "attempt": attempt,
                        "will_retry": outcome == "retry",
                        "error_code": error.get("error_code"),
                        "error": str(error.get("error_msg") or error.get("transport") or "")[:200],
                    }
                )
            )

    def _once(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        """One POST; a VK answer (success or final error), or _Transient."""
        form = urlencode({**params, "access_token": self.access_token, "v": self.api_version}).encode("ascii")
        request = urllib.request.Request(
            f"{self.base_url}/{method}",
            data=form,
            method="POST",
            headers={"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as resp:  # noqa: S310 (URL is a setting)
                raw = resp.read(MAX_ANSWER_BYTES + 1)
        except urllib.error.HTTPError as exc:
            failure = {"error": {"transport": f"HTTP {exc.code}", "http_status": exc.code}}
            if exc.code >= 500 or exc.code == 429:
                raise _Transient(failure) from exc
            return failure
        except (urllib.error.URLError, OSError, TimeoutError) as exc:
            reason = getattr(exc, "reason", exc)
            raise _Transient({"error": {"transport": f"{type(exc).__name__}: {reason}"[:200]}}) from exc
        try:
            body = json.loads(raw[:MAX_ANSWER_BYTES])
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise _Transient({"error": {"transport": "answer is not JSON"}}) from exc
        if not isinstance(body, dict) or not ("response" in body or isinstance(body.get("error"), dict)):
            raise _Transient({"error": {"transport": "answer is neither response nor error"}})
        body = _scrub(body)
        code = body.get("error", {}).get("error_code") if "error" in body else None
        if code in RETRY_CODES:
            raise _Transient(body)
        return body
