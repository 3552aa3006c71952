"""Login, logout, version and preferences."""

from __future__ import annotations

from typing import Any

from fastapi.responses import PlainTextResponse, Response

from ...downloads import tasks as cmd
from ..forwarded import untrusted_proxy_hint
from ..login_bans import BANNED_MESSAGE
from ..sessions import credentials_match
from .plumbing import Call, credentials_required, endpoint, log, login_bans, router, sessions
from .torrents import GLOBAL_MAX_INACTIVE_SEEDING_MINUTES, GLOBAL_MAX_RATIO, GLOBAL_MAX_SEEDING_MINUTES

# qBittorrent 5.0.5 and the WebAPI version it reports (src/webui/webapplication.h: API_VERSION 2.11.2)
APP_VERSION = "v5.0.5"
WEBAPI_VERSION = "2.11.2"


@router.head("/")
async def head_root() -> Response:
    return Response(status_code=200)


@endpoint("auth/login", write=True, auth=False)
def login(call: Call) -> Response:
    s = call.runtime.settings
    if credentials_required(call.runtime):
        client = call.request.client.host if call.request.client else "?"
        bans = login_bans(call.request)
        left = bans.banned_for(client)
        if left:
            log.warning("qBittorrent login refused: %s is banned for %.0f more seconds after %d failed logins"
                        " (user %r)", client, left, s.qbit_max_auth_fail_count, call.get("username")[:40])
            return PlainTextResponse(BANNED_MESSAGE, status_code=403)
        if not credentials_match(call.runtime, call.get("username"), call.get("password")):
            count = bans.failed(client)
            banned = bans.banned_for(client)
            log.warning("qBittorrent login failed for user %r from %s (failed attempts: %d%s)",
                        call.get("username")[:40], client, count,
                        f", now banned for {s.qbit_ban_duration_seconds} s"
                        f"{untrusted_proxy_hint(call.request.scope)}" if banned else "")
            return PlainTextResponse("Fails.")
        bans.succeeded(client)
    response = PlainTextResponse("Ok.")
    response.set_cookie("SID", sessions(call.request).new(), httponly=True, samesite="strict", path="/")
    return response


@endpoint("auth/logout", write=True, auth=False)
def logout(call: Call) -> Response:
    sessions(call.request).drop(call.request.cookies.get("SID"))
    response = PlainTextResponse("")
    response.delete_cookie("SID", path="/")
    return response


@endpoint("app/version")
def app_version(call: Call) -> str:
    return APP_VERSION


@endpoint("app/webapiVersion")
def webapi_version(call: Call) -> str:
    return WEBAPI_VERSION


@endpoint("app/buildInfo")
def build_info(call: Call) -> dict[str, Any]:
    return {"qt": "6.7.3", "libtorrent": "2.0.11.0", "boost": "1.86.0", "openssl": "3.4.1", "zlib": "1.3.1",
            "bitness": 64, "platform": "linux"}


@endpoint("app/defaultSavePath")
def default_save_path(call: Call) -> str:
    return cmd.public_path(call.runtime)


@endpoint("app/preferences")
def preferences(call: Call) -> dict[str, Any]:
    s = call.runtime.settings
    return {
        "save_path": cmd.public_path(call.runtime), "temp_path_enabled": False, "temp_path": "",
        "auto_tmm_enabled": False, "torrent_content_layout": "Original", "create_subfolder_enabled": True,
        "start_paused_enabled": False, "add_stopped_enabled": False,
        # Share limits as torrents/info applies them (see torrents.seed_limit_reached): a finished download
        # is stopped (action 0), never removed, once it has seeded 0 minutes unless Sonarr asked for more.
        "max_ratio_enabled": GLOBAL_MAX_RATIO >= 0, "max_ratio": GLOBAL_MAX_RATIO, "max_ratio_act": 0,
        "max_seeding_time_enabled": GLOBAL_MAX_SEEDING_MINUTES >= 0, "max_seeding_time": GLOBAL_MAX_SEEDING_MINUTES,
        "max_inactive_seeding_time_enabled": GLOBAL_MAX_INACTIVE_SEEDING_MINUTES >= 0,
        "max_inactive_seeding_time": GLOBAL_MAX_INACTIVE_SEEDING_MINUTES,
        "queueing_enabled": True, "max_active_downloads": s.max_concurrency,
        "max_active_torrents": s.max_concurrency, "max_active_uploads": 0,
        # Sonarr and Radarr refuse a magnet without "&tr=" when DHT is off
        # (QBittorrent.AddFromMagnetLink): AniBridge's magnets have no trackers, and the ones already in
        # their history must keep working unchanged.
        "dont_count_slow_torrents": False, "dht": True, "pex": False, "lsd": False,
        "web_ui_username": s.qbit_username or "", "web_ui_port": s.anibridge_port,
        "bypass_local_auth": not credentials_required(call.runtime), "locale": "en",
        "web_ui_max_auth_fail_count": s.qbit_max_auth_fail_count, "web_ui_ban_duration": s.qbit_ban_duration_seconds,
        "web_ui_csrf_protection_enabled": s.anibridge_csrf_protection,
        "web_ui_host_header_validation_enabled": s.anibridge_host_header_validation,
        "web_ui_domain_list": ";".join(s.domain_list),
        "dl_limit": 0, "up_limit": 0, "alt_dl_limit": 0, "alt_up_limit": 0,
    }


@endpoint("app/setPreferences", write=True)
def set_preferences(call: Call) -> None:
    log.info("ignoring a request to change qBittorrent preferences (AniBridge is configured by environment)")
