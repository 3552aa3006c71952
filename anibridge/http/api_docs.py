"""``/openapi.json``, ``/docs`` and ``/redoc``: FastAPI's own pages, behind the API key or a qBittorrent
login once a secret is set (they describe every endpoint; see security.may_see_details)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse

from .security import api_key_from, require_details

router = APIRouter(include_in_schema=False, dependencies=[Depends(require_details)])


def _schema_url(request: Request) -> str:
    # the page's script fetches the schema: hand it the key the page was opened with
    key = api_key_from(request)
    return "/openapi.json" + (f"?apikey={quote(key, safe='')}" if key else "")


@router.get("/openapi.json")
def openapi(request: Request) -> JSONResponse:
    schema: dict[str, Any] = request.app.openapi()
    return JSONResponse(schema)


def _no_referrer(page: HTMLResponse) -> HTMLResponse:
    # the pages load their scripts from a CDN: never send it a URL with the key in it
    page.headers["Referrer-Policy"] = "no-referrer"
    return page


@router.get("/docs")
def docs(request: Request) -> HTMLResponse:
    return _no_referrer(get_swagger_ui_html(openapi_url=_schema_url(request), title="AniBridge - API"))


@router.get("/redoc")
def redoc(request: Request) -> HTMLResponse:
    return _no_referrer(get_redoc_html(openapi_url=_schema_url(request), title="AniBridge - API"))
