"""Placeholder router (filled in by the vk integration)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["vk"])
