"""Admin endpoints: projection lag, journal statistics, manual canonical pins, crawl triggers."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request
from pydantic import BaseModel, Field

from ..config import SITE_ALIASES
from ..events.types import CanonicalOverrideSet
from .security import require_admin

router = APIRouter(prefix="/admin", dependencies=[Depends(require_admin)], tags=["admin"])


@router.get("/projections")
def projections(request: Request) -> dict[str, Any]:
    runtime = request.app.state.runtime
    return {"projections": [asdict(p.lag()) | {"error": p.error} for p in runtime.projectors()]}


@router.get("/journal")
def journal(request: Request) -> dict[str, Any]:
    return request.app.state.runtime.journal.stats()


class Pin(BaseModel):
    tvdb_id: int | None = Field(None, ge=1, le=100_000_000)


@router.put("/canonical/{site}/{slug}")
def pin(site: str, slug: str, body: Pin, request: Request) -> dict[str, Any]:
    """Pin a title to a TVDB id (or remove the pin with null); wins over automatic matching."""
    runtime = request.app.state.runtime
    canonical_site = SITE_ALIASES.get(site.lower())
    if canonical_site is None:
        raise HTTPException(404, f"unknown site {site!r}")
    if runtime.catalog.title(canonical_site, slug) is None:
        raise HTTPException(404, f"no title {slug!r} on {canonical_site}")
    pos = runtime.journal.append_one(CanonicalOverrideSet(site=canonical_site, slug=slug, tvdb_id=body.tvdb_id))
    runtime.catalog_projector.wait_until(pos, 10)
    return {"site": canonical_site, "slug": slug, "tvdb_id": body.tvdb_id, "position": pos}


@router.post("/crawl/{site}")
def crawl(site: str, request: Request) -> dict[str, Any]:
    runtime = request.app.state.runtime
    canonical_site = SITE_ALIASES.get(site.lower())
    if canonical_site is None or canonical_site not in runtime.settings.sites:
        raise HTTPException(404, f"site {site!r} is not enabled")
    if runtime.scheduler is None:
        raise HTTPException(409, "scheduled crawling is off in this process")
    return {"site": canonical_site, "started": runtime.scheduler.trigger(canonical_site)}
