"""Secrets checks shared by the endpoints (constant-time comparisons; secrets are never logged)."""

from __future__ import annotations

from fastapi import HTTPException, Request

from ..config import Settings
from .sessions import credentials_required, same_secret, sessions


def api_key_from(request: Request) -> str | None:
    return request.query_params.get("apikey") or request.headers.get("x-api-key")


def require_admin(request: Request) -> None:
    """Admin endpoints: INDEXER_API_KEY via ``apikey`` or ``X-Api-Key`` when a key is set."""
    settings: Settings = request.app.state.runtime.settings
    if settings.indexer_api_key and not same_secret(api_key_from(request), settings.indexer_api_key):
        raise HTTPException(status_code=401, detail="missing or wrong API key (apikey parameter or X-Api-Key header)")


def secured(settings: Settings) -> bool:
    """Whether any secret is set (API key or qBittorrent login): then details are for the holders only."""
    return bool(settings.indexer_api_key or settings.qbit_username or settings.qbit_password)


def may_see_details(request: Request) -> bool:
    """Status details, download names, API docs: open while no secret is set; otherwise to whoever shows the
    API key (``apikey`` / ``X-Api-Key``) or a qBittorrent session (the SID cookie of a login)."""
    runtime = request.app.state.runtime
    settings: Settings = runtime.settings
    if not secured(settings):
        return True
    if settings.indexer_api_key and same_secret(api_key_from(request), settings.indexer_api_key):
        return True
    return credentials_required(runtime) and sessions(request).valid(request.cookies.get("SID"))


def require_details(request: Request) -> None:
    if not may_see_details(request):
        raise HTTPException(status_code=401, detail="this needs the API key (apikey parameter or X-Api-Key header)"
                            " or a qBittorrent login (SID cookie)")
