"""Health endpoints: ``/health`` (overall) and ``/health/catalog`` (per site and stage)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

router = APIRouter(tags=["health"])


@router.get("/health")
def health(request: Request) -> dict[str, Any]:
    runtime = request.app.state.runtime
    return {"status": "ok", "journal_head": runtime.journal.head()}
