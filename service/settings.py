"""Service settings, read once from the environment."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from training.runtime.taxonomy import PROJECT_ROOT, default_taxonomy

# What a /classify body of MAX_BATCH comments of MAX_TEXT_CHARS characters can weigh, for the default body
# limit: Cyrillic is 2 bytes a character in UTF-8, JSON escapes (\" \n \\) get a tenth more, each comment
# its id (Comment.id: at most 200 characters, service/schemas.py) and its keys and punctuation, the request
# its envelope.
UTF8_BYTES_PER_CHAR = 2
ESCAPE_SHARE = 10  # one byte in ten for escapes
ID_MAX_CHARS = 200
PER_COMMENT_JSON_BYTES = 64
ENVELOPE_BYTES = 4096


def default_max_body_bytes(max_batch: int, max_text_chars: int) -> int:
    """The default MAX_BODY_BYTES: a full batch of the longest Russian comments fits (2,938,880 bytes for
    256 × 5,000 characters). Clients that send \\uXXXX escapes (Python's json.dumps default, 6 bytes a
    Cyrillic character) need MAX_BODY_BYTES set explicitly for batches that large."""
    text = max_text_chars * UTF8_BYTES_PER_CHAR
    per_comment = text + text // ESCAPE_SHARE + ID_MAX_CHARS * UTF8_BYTES_PER_CHAR + PER_COMMENT_JSON_BYTES
    return max_batch * per_comment + ENVELOPE_BYTES


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="", case_sensitive=False, extra="ignore")

    model_dir: Path = Field(default=PROJECT_ROOT / "models", description="bundle directory (models/latest inside)")
    max_batch: int = Field(default=256, ge=1, description="max comments per /classify call")
    max_text_chars: int = Field(default=5000, ge=1, description="max characters per comment")
    max_body_bytes: int = Field(
        default=default_max_body_bytes(256, 5000),
        ge=1024,
        description="max request body size; when not set, derived from MAX_BATCH and MAX_TEXT_CHARS",
    )
    api_keys: str = Field(default="", description="comma-separated keys; empty = open (admin endpoints refused)")
    host: str = "127.0.0.1"
    port: int = 8000
    log_level: str = "info"
    workers: int = Field(default=1, ge=1)
    log_texts: bool = Field(default=False, description="log comment texts (personal data!)")
    database_url: str = Field(
        default=f"sqlite:///{PROJECT_ROOT / 'feedback.db'}", description="SQLAlchemy URL of the feedback store"
    )
    # Connection limits (service/server_options.py hands them to uvicorn; BODY_TIMEOUT is the body guard's).
    keep_alive_timeout: int = Field(default=5, ge=1, description="seconds an idle keep-alive connection stays open")
    header_timeout: float = Field(
        default=10.0, gt=0, description="seconds a connection has to send a complete request line and headers"
    )
    body_timeout: float = Field(default=30.0, gt=0, description="seconds to receive a whole request body (408 after)")
    limit_concurrency: int = Field(
        default=100, ge=1, description="open connections + running requests per worker; new requests get 503 beyond"
    )
    max_header_bytes: int = Field(default=16_384, ge=1024, description="request line + headers size (400 beyond)")

    # VK Callback API (service/routes/vk.py): the confirmation string, the secret, and the optional auto-hide.
    vk_confirmation: str = Field(default="", description="string /vk/callback answers to VK's confirmation event")
    vk_secret: str = Field(default="", description="secret key VK sends in every event; empty = events refused")
    vk_access_token: str = Field(default="", description="community token for VK API calls (auto-hide)")
    vk_auto_hide: bool = Field(default=False, description="delete comments whose action is moderate via VK's API")
    vk_auto_hide_flags: str = Field(
        default="profanity,insult_commenter",
        description="the moderation flags that may trigger a deletion (comma-separated); disrespect_authority is "
        "left to a human by default: on real comments its head is right 4 times in 10, and its errors are "
        "criticism of the administration",
    )
    vk_api_base_url: str = Field(default="https://api.vk.com/method", description="VK API base URL (tests: fake)")
    vk_api_version: str = Field(default="5.199", description="VK API version sent as v=")
    vk_retry_attempts: int = Field(
        default=5, ge=1, le=20, description="VK API calls per auto-hide (retried: network, 5xx, VK errors 1/6/9/10)"
    )
    vk_retry_backoff: float = Field(
        default=0.5, gt=0, le=60, description="seconds before the first VK retry; doubled each time, at most 8 s"
    )

    @field_validator("log_level")
    @classmethod
    def _level(cls, v: str) -> str:
        return v.lower()

    @field_validator("vk_auto_hide_flags")
    @classmethod
    def _hide_flags(cls, v: str) -> str:
        flags = [f.strip() for f in v.split(",") if f.strip()]
        allowed = default_taxonomy().moderation_flags
        unknown = [f for f in flags if f not in allowed]
        if unknown:
            raise ValueError(f"{', '.join(unknown)} is not a moderation flag; choose from {', '.join(allowed)}")
        return ",".join(flags)

    @property
    def auto_hide_flags(self) -> frozenset[str]:
        return frozenset(f for f in self.vk_auto_hide_flags.split(",") if f)

    @model_validator(mode="after")
    def _derived_body_limit(self) -> Settings:
        if "max_body_bytes" not in self.model_fields_set:
            self.max_body_bytes = default_max_body_bytes(self.max_batch, self.max_text_chars)
        return self

    @property
    def api_key_set(self) -> frozenset[str]:
        return frozenset(k.strip() for k in self.api_keys.split(",") if k.strip())


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
