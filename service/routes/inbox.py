"""Placeholder router (filled in by the inbox integration)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["inbox"])
