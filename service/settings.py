"""Service settings, read once from the environment."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from training.runtime.taxonomy import PROJECT_ROOT


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="", case_sensitive=False, extra="ignore")

    model_dir: Path = Field(default=PROJECT_ROOT / "models", description="bundle directory (models/latest inside)")
    max_batch: int = Field(default=256, ge=1, description="max comments per /classify call")
    max_text_chars: int = Field(default=5000, ge=1, description="max characters per comment")
    max_body_bytes: int = Field(default=2_000_000, ge=1024, description="max request body size")
    api_keys: str = Field(default="", description="comma-separated keys; empty = open")
    host: str = "127.0.0.1"
    port: int = 8000
    log_level: str = "info"
    workers: int = Field(default=1, ge=1)
    log_texts: bool = Field(default=False, description="log comment texts (personal data!)")
    database_url: str = Field(
        default=f"sqlite:///{PROJECT_ROOT / 'feedback.db'}", description="SQLAlchemy URL of the feedback store"
    )

    @field_validator("log_level")
    @classmethod
    def _level(cls, v: str) -> str:
        return v.lower()

    @property
    def api_key_set(self) -> frozenset[str]:
        return frozenset(k.strip() for k in self.api_keys.split(",") if k.strip())


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
