"""Secrets checks shared by the endpoints (constant-time comparisons; secrets are never logged)."""

from __future__ import annotations

import hmac

from fastapi import HTTPException, Request

from ..config import Settings


def same_secret(given: str | None, expected: str) -> bool:
    return given is not None and hmac.compare_digest(given.encode(), expected.encode())


def api_key_from(request: Request) -> str | None:
    return request.query_params.get("apikey") or request.headers.get("x-api-key")


def require_admin(request: Request) -> None:
    """Admin endpoints: INDEXER_API_KEY via ``apikey`` or ``X-Api-Key`` when a key is set."""
    settings: Settings = request.app.state.runtime.settings
    if settings.indexer_api_key and not same_secret(api_key_from(request), settings.indexer_api_key):
        raise HTTPException(status_code=401, detail="missing or wrong API key (apikey parameter or X-Api-Key header)")
