"""Hardening: over-limit bodies answered to standard clients (D8), timeouts and a connection limit (D9), admin
endpoints closed without keys (D11), the key checked before any body is read (D12), security headers, and a
full batch of Russian comments under the default body limit.

Connection behaviour is tested against real uvicorn subprocesses started here from the app factory (so the
tests do not depend on how service/__main__.py wires the options); pure app behaviour with TestClient on an app
without a model (the guards answer before any route needs one).
"""

from __future__ import annotations

import json
import pickle
import re
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
import requests
from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient

from service.settings import Settings
from tests.service.conftest import make_app, open_clients
from training.runtime.taxonomy import PROJECT_ROOT

KEY = "test-key-1"
BIG = 5_000_000  # the reproducer of D8: 5 MB, over the default limit
JSON = {"Content-Type": "application/json"}
API_KEY_ERROR = {"error": "missing or invalid X-API-Key"}
ADMIN_DISABLED = "admin endpoints are disabled: set API_KEYS"
STRICT_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)

# The app factory under uvicorn as `python -m service` runs it, without and with this change's options.
PLAIN = (
    "import uvicorn\n"
    "from service.settings import get_settings\n"
    "s = get_settings()\n"
    "uvicorn.run('service.app:create_app', factory=True, host=s.host, port=s.port, log_level='warning',"
    " access_log=False)\n"
)
WITH_OPTIONS = (
    "import uvicorn\n"
    "from service.server_options import uvicorn_options\n"
    "from service.settings import get_settings\n"
    "s = get_settings()\n"
    "uvicorn.run('service.app:create_app', factory=True, host=s.host, port=s.port, log_level='warning',"
    " access_log=False, **uvicorn_options(s))\n"
)


@contextmanager
def uvicorn_app(service_process, tmp: Path, script: str, **env_overrides: str) -> Iterator[tuple[str, int]]:
    """The app (no model: MODEL_DIR is empty) under a real uvicorn started by `script`; yields (base URL,
    port) once /health is 200 (tests/conftest.py's running_service does the start, wait and stop)."""
    (tmp / "no-models").mkdir(exist_ok=True)
    env = {
        "LOG_LEVEL": "warning",
        "MODEL_DIR": str(tmp / "no-models"),
        "DATABASE_URL": f"sqlite:///{tmp / 'fb.db'}",
        **env_overrides,
    }
    with service_process(env, tmp / "server.log", ready_timeout=60, argv=["-c", script], ready_path="/health") as base:
        yield base, int(base.rsplit(":", 1)[1])


def urllib_post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, dict, dict[str, str]]:
    """POST with the standard library's client: (status, JSON body, headers); a reset raises URLError."""
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=60) as r:
            return r.status, json.loads(r.read()), {k.lower(): v for k, v in r.headers.items()}
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read()), {k.lower(): v for k, v in e.headers.items()}


def big_classify_body(size: int = BIG) -> bytes:
    return b'{"comments": [{"text": "' + b"a" * size + b'"}]}'


def connect(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def seconds_until_closed(sock: socket.socket, limit: float) -> float | None:
    """How long until the server closes `sock` (recv gives EOF or a reset); None if still open after `limit`."""
    start = time.monotonic()
    sock.settimeout(0.1)
    while time.monotonic() - start < limit:
        try:
            if sock.recv(65536) == b"":
                return time.monotonic() - start
        except TimeoutError:
            continue
        except ConnectionError:
            return time.monotonic() - start
    return None


def read_response(sock: socket.socket, timeout: float) -> bytes:
    """Everything the server sends until it closes or `timeout` passes."""
    sock.settimeout(timeout)
    data = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            break
        except ConnectionError:
            break
        if not chunk:
            break
        data += chunk
    return data


# ------------------------------------------------------------------------ D8: the 413 reaches standard clients
@pytest.fixture(scope="module")
def plain_server(tmp_path_factory, service_process):
    """Uvicorn as `python -m service` runs it today (no options), API_KEYS set, default body limit."""
    with uvicorn_app(service_process, tmp_path_factory.mktemp("plain"), PLAIN, API_KEYS=KEY) as (base, port):
        yield base, port


@pytest.mark.slow
def test_d8_urllib_gets_413_for_a_5mb_body(plain_server):
    base, _ = plain_server
    status, body, headers = urllib_post(f"{base}/classify", big_classify_body(), {**JSON, "X-API-Key": KEY})
    assert status == 413, body
    assert "request body too large" in body["error"] and str(Settings().max_body_bytes) in body["error"]
    assert headers["connection"] == "close"
    assert httpx.get(f"{base}/health").status_code == 200


@pytest.mark.slow
def test_d8_requests_gets_413_for_a_chunked_body_over_the_limit(plain_server):
    base, _ = plain_server

    def chunks() -> Iterator[bytes]:
        yield b'{"comments": [{"text": "'
        for _ in range(50):
            yield b"a" * 100_000
        yield b'"}]}'

    r = requests.post(f"{base}/classify", data=chunks(), headers={**JSON, "X-API-Key": KEY}, timeout=60)
    assert r.status_code == 413 and "too large" in r.json()["error"]


@pytest.mark.slow
def test_d8_unauthenticated_5mb_body_gets_the_401(plain_server):
    base, _ = plain_server
    status, body, _ = urllib_post(f"{base}/classify", big_classify_body(), JSON)
    assert (status, body) == (401, API_KEY_ERROR)


@pytest.mark.slow
def test_d8_a_body_beyond_the_discard_bound_is_not_read(plain_server):
    """A declared length past the bound is refused at once (413, connection closed), not read for minutes."""
    _, port = plain_server
    with connect(port) as sock:
        head = f"POST /classify HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nX-API-Key: {KEY}\r\n"
        sock.sendall(head.encode() + b"Content-Length: 1000000000\r\n\r\n" + b"{" * 1000)
        start = time.monotonic()
        data = read_response(sock, timeout=10)
        assert data.startswith(b"HTTP/1.1 413"), data[:200]
        assert time.monotonic() - start < 5


def _run_guard(guard, scope: dict, messages: list[dict]) -> tuple[list[dict], float]:
    """Drive an ASGI middleware like uvicorn does: `messages` in order, then receive() blocks (uvicorn's
    receive waits for the response once the body has ended). Returns what was sent and how long it took."""
    import anyio

    sent: list[dict] = []
    pending = list(messages)

    async def receive() -> dict:
        if pending:
            return pending.pop(0)
        await anyio.sleep_forever()
        raise AssertionError("unreachable")

    async def send(message: dict) -> None:
        sent.append(message)

    start = time.monotonic()
    anyio.run(guard, {"type": "http", "root_path": "", **scope}, receive, send)
    return sent, time.monotonic() - start


def test_d8_chunked_body_over_the_limit_in_its_last_message_is_answered_at_once():
    """The message that crosses the limit also ends the body: nothing is left to discard, no waiting."""
    from service.app import BodyGuardMiddleware

    async def inner(scope, receive, send) -> None:
        raise AssertionError("the route must not run")

    guard = BodyGuardMiddleware(inner, max_body_bytes=4096, body_timeout=3)
    headers = [(b"content-type", b"application/json"), (b"transfer-encoding", b"chunked")]
    scope = {"method": "POST", "path": "/classify", "headers": headers}
    sent, elapsed = _run_guard(guard, scope, [{"type": "http.request", "body": b"a" * 5000, "more_body": False}])
    assert sent[0]["status"] == 413 and (b"connection", b"close") in sent[0]["headers"]
    assert elapsed < 1, elapsed


# ------------------------------------------------------------------------ D9: timeouts and a connection limit
D9_ENV = {
    "KEEP_ALIVE_TIMEOUT": "1",
    "HEADER_TIMEOUT": "1.5",
    "BODY_TIMEOUT": "1.5",
    "LIMIT_CONCURRENCY": "4",
    "MAX_HEADER_BYTES": "8192",
}


@pytest.fixture(scope="module")
def tuned_server(tmp_path_factory, service_process):
    """Uvicorn with uvicorn_options(settings) and short timeouts."""
    with uvicorn_app(service_process, tmp_path_factory.mktemp("tuned"), WITH_OPTIONS, **D9_ENV) as (base, port):
        yield base, port


@pytest.mark.slow
def test_d9_idle_keep_alive_connection_is_closed(tuned_server):
    _, port = tuned_server
    with connect(port) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        sock.settimeout(5)
        assert sock.recv(65536).startswith(b"HTTP/1.1 200")
        closed = seconds_until_closed(sock, limit=4)
        assert closed is not None and closed < 3, closed  # KEEP_ALIVE_TIMEOUT=1 (uvicorn's default is 5)


@pytest.mark.slow
def test_d9_connection_that_never_sends_a_request_is_closed(tuned_server):
    _, port = tuned_server
    with connect(port) as sock:
        closed = seconds_until_closed(sock, limit=6)
        assert closed is not None and 1 < closed < 4, closed  # HEADER_TIMEOUT=1.5


@pytest.mark.slow
def test_d9_headers_sent_slowly_are_cut_off(tuned_server):
    _, port = tuned_server
    with connect(port) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n")
        start = time.monotonic()
        closed_after = None
        while time.monotonic() - start < 6:
            try:
                sock.sendall(b"X-Slow: 1\r\n")
            except OSError:
                closed_after = time.monotonic() - start
                break
            if seconds_until_closed(sock, limit=0.3) is not None:
                closed_after = time.monotonic() - start
                break
        assert closed_after is not None and closed_after < 4, closed_after


@pytest.mark.slow
def test_d9_stalled_body_gets_408(tuned_server):
    _, port = tuned_server
    with connect(port) as sock:
        sock.sendall(
            b"POST /classify HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n"
            b'{"comments": '
        )
        start = time.monotonic()
        data = read_response(sock, timeout=6)
        assert data.startswith(b"HTTP/1.1 408"), data[:200]
        assert time.monotonic() - start < 4
        assert b"connection: close" in data.lower()
        assert json.loads(data.split(b"\r\n\r\n", 1)[1])["error"].startswith("request body not received within")


@pytest.mark.slow
def test_d9_trickled_body_gets_408(tuned_server):
    _, port = tuned_server
    with connect(port) as sock:
        sock.sendall(
            b"POST /classify HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n"
        )
        start = time.monotonic()
        answer = b""
        while time.monotonic() - start < 6 and not answer:
            try:
                sock.sendall(b" ")
            except OSError:
                break
            sock.settimeout(0.2)
            try:
                answer = sock.recv(65536)
            except TimeoutError:
                continue
        assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
        assert time.monotonic() - start < 4


@pytest.mark.slow
def test_d9_connections_beyond_the_limit_get_503(tuned_server):
    base, port = tuned_server
    held = [connect(port) for _ in range(4)]  # LIMIT_CONCURRENCY=4
    try:
        time.sleep(0.2)
        assert httpx.get(f"{base}/health", timeout=5).status_code == 503
    finally:
        for sock in held:
            sock.close()
    time.sleep(0.3)
    assert httpx.get(f"{base}/health", timeout=5).status_code == 200


@pytest.mark.slow
def test_d9_headers_over_max_header_bytes_are_refused(tuned_server):
    base, port = tuned_server
    big = {"X-Big": "a" * 12_000}  # under h11's default 16 KiB, over MAX_HEADER_BYTES=8192
    r = httpx.get(f"{base}/health", headers=big, timeout=5)  # the whole head in one read
    assert r.status_code == 431
    with connect(port) as sock:  # and in pieces, the last one crossing the limit
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n")
        for _ in range(9):
            sock.sendall(b"X-Part: " + b"b" * 990 + b"\r\n")
            time.sleep(0.05)
        assert read_response(sock, timeout=5).startswith(b"HTTP/1.1 431")
    assert httpx.get(f"{base}/health", headers={"X-Fine": "a" * 6000}, timeout=5).status_code == 200


def test_d9_uvicorn_options_follow_the_settings():
    from service.server_options import uvicorn_options

    s = Settings(keep_alive_timeout=7, header_timeout=3.5, limit_concurrency=50, max_header_bytes=10_000)
    options = uvicorn_options(s)
    assert options["timeout_keep_alive"] == 7
    assert options["limit_concurrency"] == 50
    assert options["h11_max_incomplete_event_size"] == 10_000
    protocol = options["http"]
    assert protocol.header_timeout == 3.5
    # uvicorn hands its config to worker processes pickled (spawn): the class must come back by name.
    assert pickle.loads(pickle.dumps(protocol)) is protocol
    assert set(uvicorn_options(Settings())) == set(options)


def test_d9_timeouts_are_settings_with_defaults():
    s = Settings()
    assert (s.keep_alive_timeout, s.header_timeout, s.body_timeout) == (5, 10.0, 30.0)
    assert s.limit_concurrency == 100 and s.max_header_bytes == 16_384


# ------------------------------------------------------------------------ D11: admin endpoints always need a key
def _admin_dummy(tmp_path: Path, api_keys: str) -> TestClient:
    from service.deps import require_admin_key

    app = FastAPI()
    app.state.settings = Settings(model_dir=tmp_path, api_keys=api_keys)

    @app.post("/dummy-admin", dependencies=[Depends(require_admin_key)])
    def dummy() -> dict[str, bool]:
        return {"ok": True}

    return TestClient(app)


def test_d11_require_admin_key_refuses_everyone_without_keys(tmp_path):
    client = _admin_dummy(tmp_path, "")
    for headers in ({}, {"X-API-Key": ""}, {"X-API-Key": "anything"}):
        r = client.post("/dummy-admin", headers=headers)
        assert r.status_code == 403 and r.json() == {"detail": ADMIN_DISABLED}


def test_d11_require_admin_key_checks_the_key_when_keys_are_set(tmp_path):
    client = _admin_dummy(tmp_path, "k1,ключ")
    assert client.post("/dummy-admin").status_code == 401
    assert client.post("/dummy-admin", headers={"X-API-Key": "wrong"}).status_code == 401
    assert client.post("/dummy-admin", headers={"X-API-Key": "ключ2".encode()}).status_code == 401
    assert client.post("/dummy-admin", headers={"X-API-Key": "k1"}).json() == {"ok": True}
    assert client.post("/dummy-admin", headers={"X-API-Key": "ключ".encode()}).status_code == 200


@pytest.fixture
def modelless(tmp_path) -> Iterator:
    """create_app() without a model (the guards answer before any route needs one)."""
    (tmp_path / "no-models").mkdir(exist_ok=True)
    with open_clients() as open_client:

        def factory(**overrides) -> TestClient:
            return open_client(make_app(tmp_path / "no-models", tmp_path, **overrides))

        yield factory


def test_d11_admin_reload_without_keys_is_403_even_cross_site(modelless):
    client = modelless(api_keys="")
    # What a cross-site form or fetch can send: a POST with no content type, or a text/plain one.
    for headers in ({"Origin": "https://evil.example"}, {"Content-Type": "text/plain"}):
        r = client.post("/admin/reload", headers=headers, content=b"")
        assert r.status_code == 403, r.text
        assert r.json() == {"error": ADMIN_DISABLED}


# ------------------------------------------------------------------------ D12: the key before the body
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/classify"),
        ("POST", "/analytics"),
        ("POST", "/feedback"),
        ("POST", "/admin/reload"),
        ("GET", "/feedback/export"),
        ("GET", "/feedback/c1"),
        ("POST", "/nowhere"),
    ],
)
def test_d12_protected_paths_answer_401_before_the_body(modelless, method, path):
    client = modelless(api_keys=KEY)
    body = b"{not json" if method == "POST" else None
    r = client.request(method, path, content=body, headers=JSON)
    assert r.status_code == 401 and r.json() == API_KEY_ERROR, r.text
    r = client.request(method, path, content=body, headers={**JSON, "X-API-Key": "wrong"})
    assert r.status_code == 401 and r.json() == API_KEY_ERROR


def test_d12_malformed_json_with_the_key_is_still_400(modelless):
    client = modelless(api_keys=KEY)
    r = client.post("/classify", content=b"{not json", headers={**JSON, "X-API-Key": KEY})
    assert r.status_code == 400 and "malformed JSON" in r.json()["error"]


def test_d12_over_limit_body_without_a_key_is_401(modelless):
    client = modelless(api_keys=KEY, max_body_bytes=4096)
    r = client.post("/classify", content=big_classify_body(10_000), headers=JSON)
    assert r.status_code == 401 and r.json() == API_KEY_ERROR


def test_d12_public_paths_need_no_key(modelless):
    client = modelless(api_keys=KEY)
    for path in ("/health", "/metrics", "/labels", "/docs", "/redoc", "/openapi.json", "/ui", "/ui/static/ui.css"):
        assert client.get(path).status_code == 200, path
    for path in ("/ready", "/version"):  # no model here: 503, not 401
        assert client.get(path).status_code == 503, path
    r = client.post("/ui/classify", data={"text": "Когда починят дорогу?"})  # checks its own form field
    assert r.status_code == 401 and r.headers["content-type"].startswith("text/html")


def test_d12_the_guard_never_passes_a_refused_request_on():
    """The route (here a stand-in app) is never called for a request without a valid key, whatever the body."""
    import anyio

    from service.auth_guard import AuthGuardMiddleware

    called = []

    async def inner(scope, receive, send) -> None:
        called.append(scope["path"])

    guard = AuthGuardMiddleware(inner, settings=Settings(api_keys=KEY))
    sent: list[dict] = []

    async def run() -> None:
        async def receive() -> dict:
            return {"type": "http.request", "body": b"{not json", "more_body": False}

        async def send(message: dict) -> None:
            sent.append(message)

        scope = {"type": "http", "method": "POST", "path": "/classify", "root_path": "", "headers": []}
        await guard(scope, receive, send)

    anyio.run(run)
    assert called == []
    assert sent[0]["status"] == 401 and json.loads(sent[1]["body"]) == API_KEY_ERROR


# ------------------------------------------------------------------------ security headers
def test_security_headers_on_every_response(modelless):
    client = modelless(api_keys=KEY, max_body_bytes=4096)
    responses = {
        "health": client.get("/health"),
        "ui": client.get("/ui"),
        "static": client.get("/ui/static/ui.js"),
        "404": client.get("/nope", headers={"X-API-Key": KEY}),
        "401": client.post("/classify", json={}),
        "413": client.post("/classify", content=big_classify_body(10_000), headers={**JSON, "X-API-Key": KEY}),
    }
    for name, r in responses.items():
        assert r.headers["x-content-type-options"] == "nosniff", name
        assert r.headers["x-frame-options"] == "DENY", name
        assert r.headers["referrer-policy"] == "no-referrer", name
        assert r.headers["content-security-policy"] == STRICT_CSP, name


def test_docs_get_a_looser_csp_only_there(modelless):
    client = modelless()
    for path in ("/docs", "/redoc"):
        csp = client.get(path).headers["content-security-policy"]
        assert "https://cdn.jsdelivr.net" in csp and "frame-ancestors 'none'" in csp, path
    assert client.get("/openapi.json").headers["content-security-policy"] == STRICT_CSP
    assert client.get("/docsx").headers["content-security-policy"] == STRICT_CSP


def test_moderation_page_has_nothing_a_strict_csp_blocks():
    """ui.html: scripts only from files or as JSON data blocks, no inline styles or event handlers."""
    html = (PROJECT_ROOT / "service" / "templates" / "ui.html").read_text(encoding="utf-8")
    for tag in re.findall(r"<script\b[^>]*>", html):
        assert 'type="application/json"' in tag or re.search(r'\bsrc="/ui/static/', tag), tag
    assert "<style" not in html
    assert not re.search(r"\sstyle\s*=", html)
    assert not re.search(r"\son[a-z]+\s*=", html, re.IGNORECASE)
    assert "javascript:" not in html.lower()
    js = (PROJECT_ROOT / "service" / "static" / "ui.js").read_text(encoding="utf-8")
    assert not re.search(r"\beval\(|new Function\(|setAttribute\(\s*['\"](style|on)", js)


# ------------------------------------------------------------------------ a full Russian batch fits the body limit
def test_default_body_limit_follows_the_other_limits(monkeypatch):
    for name in ("MAX_BODY_BYTES", "MAX_BATCH", "MAX_TEXT_CHARS"):
        monkeypatch.delenv(name, raising=False)
    s = Settings()
    assert s.max_body_bytes >= 256 * 5000 * 2 + 256 * 200
    assert Settings(max_batch=10).max_body_bytes < s.max_body_bytes
    assert Settings(max_body_bytes=50_000).max_body_bytes == 50_000
    monkeypatch.setenv("MAX_BODY_BYTES", "65536")
    assert Settings().max_body_bytes == 65536
    monkeypatch.delenv("MAX_BODY_BYTES")
    monkeypatch.setenv("MAX_TEXT_CHARS", "100")
    assert Settings().max_body_bytes < s.max_body_bytes


def test_full_batch_of_long_russian_comments_is_accepted(app_factory):
    client = app_factory()  # default limits
    settings = Settings()
    sentence = "Третий день не вывозят мусор на улице Ленина, контейнеры переполнены, когда уберут? "
    text = (sentence * (settings.max_text_chars // len(sentence) + 1))[: settings.max_text_chars]
    comments = [{"id": f"{i:03d}-" + "и" * 196, "text": text} for i in range(settings.max_batch)]
    body = json.dumps({"comments": comments}, ensure_ascii=False).encode("utf-8")
    assert len(body) > 2_000_000  # over the old fixed limit
    r = client.post("/classify", content=body, headers=JSON)
    assert r.status_code == 200, r.text[:300]
    assert len(r.json()["results"]) == settings.max_batch
