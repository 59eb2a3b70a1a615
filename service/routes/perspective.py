"""Placeholder router (filled in by the perspective integration)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["perspective"])
