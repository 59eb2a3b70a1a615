"""The HTTP ceiling: a bare FastAPI app with our request and response models and no model.

`POST /classify` parses and validates the body as `service.schemas.ClassifyRequest` and answers every comment
with one fixed, valid `ClassifyResult` (checked against the schema at import) of the same shape as ours, id
echoed, dumped with orjson as our route does. No middleware, no API-key or content-type checks, no metrics,
no micro-batcher. What it costs is what FastAPI + uvicorn + pydantic cost on this machine: our service cannot
go faster than this over HTTP.

`python -m bench.ceiling` runs it under uvicorn the way `python -m service` runs ours: HOST, PORT, WORKERS and
LOG_LEVEL from the environment, `service.server_options.serve(...)`, the same uvicorn options and socket.
"""

from __future__ import annotations

import os
from typing import Any

from fastapi import FastAPI

from service.responses import FastJSONResponse
from service.schemas import ClassifyRequest, ClassifyResponse, ClassifyResult, example_result
from service.server_options import serve
from service.settings import get_settings

VERSION = "ceiling"


def fixed_result() -> dict[str, Any]:
    """The OpenAPI example result (actionable, routed, not urgent, no evidence) without an id."""
    result = {**example_result(), "id": None}
    ClassifyResult.model_validate(result)  # valid by our response model, or the ceiling does not start
    return result


RESULT = fixed_result()


def create_app() -> FastAPI:
    app = FastAPI(title="Benchmark ceiling (no model)")

    @app.post("/classify", response_model=ClassifyResponse)
    async def classify(req: ClassifyRequest) -> Any:
        results = [{**RESULT, "id": c.id} for c in req.comments]
        return FastJSONResponse({"model_version": VERSION, "results": results})

    @app.get("/ready")
    async def ready() -> dict[str, Any]:
        return {"status": "ready", "model_version": VERSION, "reason": None}

    return app


def main() -> None:
    # The same server stack as ours (service/server_options.serve: our uvicorn options and the
    # TCP_NODELAY-friendly socket), so that the ceiling differs from us only in the app.
    serve(
        "bench.ceiling:create_app",
        get_settings(),
        factory=True,
        host=os.environ.get("HOST", "127.0.0.1"),
        port=int(os.environ.get("PORT", "8001")),
        workers=int(os.environ.get("WORKERS", "1")),
        log_level=os.environ.get("LOG_LEVEL", "info").lower(),
        access_log=False,
    )


if __name__ == "__main__":
    main()
