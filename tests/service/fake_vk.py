"""A fake VK API: a real HTTP server on a free loopback port that speaks VK's protocol and records the calls.

`POST /method/<name>` with a form body (access_token, v and the method's parameters), answered with VK's JSON:
`{"response": 1}` by default, or what a test queued for that method: `vk_error(6, ...)` for VK's rate-limit
answer, `{"http_status": 500}` for a server error. Tests point VK_API_BASE_URL at `fake.base_url`.
"""

from __future__ import annotations

import json
import threading
from collections import defaultdict, deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl

RATE_LIMIT = (6, "Too many requests per second")
ACCESS_DENIED = (15, "Access denied: no access to call this method")


@dataclass(frozen=True)
class Call:
    method: str
    params: dict[str, str]
    content_type: str
    http_method: str


def vk_error(code: int, message: str, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
    """VK's error answer, with the request's parameters echoed as VK does (the token included: the client must
    not store it)."""
    echoed = [{"key": "method", "value": method}, {"key": "oauth", "value": "1"}]
    echoed += [{"key": k, "value": str(v)} for k, v in (params or {}).items()]
    return {"error": {"error_code": code, "error_msg": message, "request_params": echoed}}


class FakeVk:
    def __init__(self) -> None:
        self.calls: list[Call] = []
        self._answers: dict[str, deque[dict[str, Any]]] = defaultdict(deque)
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake-vk", daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/method"

    def queue(self, method: str, *answers: dict[str, Any]) -> None:
        """Answers for the next calls of `method`, in order; then {"response": 1} again."""
        with self._lock:
            self._answers[method].extend(answers)

    def rate_limit(self, method: str, times: int) -> None:
        self.queue(method, *(vk_error(*RATE_LIMIT, method) for _ in range(times)))

    def calls_of(self, method: str) -> list[Call]:
        with self._lock:
            return [c for c in self.calls if c.method == method]

    def __enter__(self) -> FakeVk:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def _answer(self, call: Call) -> tuple[int, dict[str, Any]]:
        with self._lock:
            self.calls.append(call)
            queued = self._answers[call.method]
            answer = queued.popleft() if queued else {"response": 1}
        if "http_status" in answer:
            return int(answer["http_status"]), {"message": "fake server error"}
        if "error" in answer:  # echo this call's parameters, as VK does
            error = answer["error"]
            answer = vk_error(error["error_code"], error["error_msg"], call.method, call.params)
        return 200, answer

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self, body: bytes) -> None:
                path, _, query = self.path.partition("?")
                if not path.startswith("/method/"):
                    self.send_error(404)
                    return
                params = dict(parse_qsl(query)) | dict(parse_qsl(body.decode("utf-8")))
                call = Call(path[len("/method/") :], params, self.headers.get("Content-Type", ""), self.command)
                status, answer = fake._answer(call)
                payload = json.dumps(answer, ensure_ascii=False).encode("utf-8")
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                self._serve(self.rfile.read(int(self.headers.get("Content-Length") or 0)))

            def do_GET(self) -> None:  # noqa: N802
                self._serve(b"")

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (quiet)
                pass

        return Handler


# --------------------------------------------------------------------------------------- incoming events
# Callback API bodies shaped like VK's documented examples (API 5.199): the envelope, then each kind's comment
# object (a wall comment carries post_id, owner_id and post_owner_id; a photo comment photo_id and
# photo_owner_id; video video_id/video_owner_id; a board post topic_id/topic_owner_id; a market comment
# item_id/market_owner_id) and the delete objects (ids only).
GROUP_ID = 123456
OWNER = -GROUP_ID
DATE = 1733112000  # 2024-12-02 04:00:00 UTC
_events = iter(range(1, 10**9))


def event_id() -> str:
    """40 hex characters, like VK's."""
    return f"{next(_events):040x}"


def vk_event(type_: str, obj: dict[str, Any], secret: str, eid: str | None = None, group_id: int = GROUP_ID) -> dict:
    return {
        "type": type_,
        "event_id": eid or event_id(),
        "v": "5.199",
        "object": obj,
        "group_id": group_id,
        "secret": secret,
    }


def comment_object(
    kind: str,
    comment_id: int,
    text: str,
    object_id: int = 321,
    date: int = DATE,
    from_id: int = 56789,
    owner_id: int = OWNER,
) -> dict[str, Any]:
    base = {"id": comment_id, "from_id": from_id, "date": date, "text": text}
    if kind == "wall":
        return {
            **base,
            "post_id": object_id,
            "owner_id": owner_id,
            "parents_stack": [],
            "thread": {"count": 0},
            "post_owner_id": owner_id,
        }
    if kind == "photo":
        return {**base, "photo_owner_id": owner_id, "photo_id": object_id}
    if kind == "video":
        return {**base, "video_owner_id": owner_id, "video_id": object_id}
    if kind == "board":
        return {**base, "topic_owner_id": owner_id, "topic_id": object_id}
    if kind == "market":
        return {**base, "market_owner_id": owner_id, "item_id": object_id}
    raise ValueError(kind)


NEW_TYPES = {
    "wall": "wall_reply_new",
    "photo": "photo_comment_new",
    "video": "video_comment_new",
    "board": "board_post_new",
    "market": "market_comment_new",
}


def wall_reply_delete(comment_id: int, post_id: int = 321, deleter_id: int = 56789) -> dict[str, Any]:
    return {"owner_id": OWNER, "id": comment_id, "deleter_id": deleter_id, "post_id": post_id}


def delete_object(kind: str, comment_id: int, object_id: int = 321, deleter_id: int = 56789) -> dict[str, Any]:
    """The *_delete event objects: photo/video/market carry owner_id, id, user_id, deleter_id and their object's
    id; a board post topic_owner_id, topic_id and id; a wall comment owner_id, id, deleter_id, post_id."""
    if kind == "wall":
        return wall_reply_delete(comment_id, object_id, deleter_id)
    if kind == "board":
        return {"topic_owner_id": OWNER, "topic_id": object_id, "id": comment_id}
    field = {"photo": "photo_id", "video": "video_id", "market": "item_id"}[kind]
    return {"owner_id": OWNER, "id": comment_id, "user_id": deleter_id, "deleter_id": deleter_id, field: object_id}


DELETE_TYPES = {k: v.replace("_new", "_delete") for k, v in NEW_TYPES.items()}
