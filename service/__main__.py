"""`python -m service`: run uvicorn with HOST/PORT/WORKERS/LOG_LEVEL from the environment."""

import uvicorn

from service.settings import get_settings


def main() -> None:
    s = get_settings()
    uvicorn.run("service.app:create_app", factory=True, host=s.host, port=s.port, workers=s.workers,
                log_level=s.log_level, access_log=False)


if __name__ == "__main__":
    main()
