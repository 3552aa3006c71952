"""qBittorrent login sessions (SID cookies) and the login ban table, kept on the app's state.

Shared by the qBittorrent API and by the other endpoints a logged-in browser may read (status
page, health details, API docs).
"""

from __future__ import annotations

import base64
import binascii
import hmac
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from fastapi import Request

from .login_bans import LoginBans

if TYPE_CHECKING:
    from ..runtime import Runtime

SESSION_IDLE_SECONDS = 3600.0
MAX_SESSIONS = 1000


class Sessions:
    """SID tokens kept in memory (a restart means logging in again, as with qBittorrent)."""

    def __init__(self) -> None:
        self._sids: OrderedDict[str, float] = OrderedDict()
        self._lock = threading.Lock()

    def new(self) -> str:
        sid = secrets.token_urlsafe(24)
        with self._lock:
            self._sids[sid] = time.monotonic()
            while len(self._sids) > MAX_SESSIONS:
                self._sids.popitem(last=False)
        return sid

    def valid(self, sid: str | None) -> bool:
        if not sid:
            return False
        now = time.monotonic()
        with self._lock:
            seen = self._sids.get(sid)
            if seen is None or now - seen > SESSION_IDLE_SECONDS:
                self._sids.pop(sid, None)
                return False
            self._sids[sid] = now
            self._sids.move_to_end(sid)
            return True

    def drop(self, sid: str | None) -> None:
        with self._lock:
            self._sids.pop(sid or "", None)


_state_lock = threading.Lock()


def app_state(request: Request, name: str, factory: Callable[[], Any]) -> Any:
    state = request.app.state
    with _state_lock:
        if not hasattr(state, name):
            setattr(state, name, factory())
        return getattr(state, name)


def sessions(request: Request) -> Sessions:
    sessions: Sessions = app_state(request, "qbit_sessions", Sessions)
    return sessions


def login_bans(request: Request) -> LoginBans:
    s = request.app.state.runtime.settings
    bans: LoginBans = app_state(request, "qbit_login_bans",
                                lambda: LoginBans(s.qbit_max_auth_fail_count, s.qbit_ban_duration_seconds))
    return bans


def credentials_required(runtime: Runtime) -> bool:
    s = runtime.settings
    return bool(s.qbit_username or s.qbit_password)


def same_secret(given: str | None, expected: str) -> bool:
    """Constant-time comparison of a secret (also imported from ``security``)."""
    return given is not None and hmac.compare_digest(given.encode(), expected.encode())


def credentials_match(runtime: Runtime, username: str, password: str) -> bool:
    """Without QBIT_USERNAME any user name goes with the right password (Sonarr then leaves it empty)."""
    s = runtime.settings
    user_ok = same_secret(username, s.qbit_username) if s.qbit_username else True
    return same_secret(password, s.qbit_password or "") and user_ok


def _basic_credentials(request: Request) -> tuple[str, str] | None:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic" or not value:
        return None
    try:
        user, sep, password = base64.b64decode(value.strip(), validate=True).decode("latin-1").partition(":")
    except (ValueError, binascii.Error):
        return None
    return (user, password) if sep else None


def authorized(request: Request, runtime: Runtime) -> bool:
    """A session cookie from auth/login, or HTTP Basic credentials on the request itself: Sonarr and
    Radarr send those on every call and log in only when both a user name and a password are set
    (QBittorrentProxyV2.AuthenticateClient), so a password-only setup must take them. Wrong Basic
    credentials count as failed logins (and a banned address gets no answer either way)."""
    if not credentials_required(runtime) or sessions(request).valid(request.cookies.get("SID")):
        return True
    basic = _basic_credentials(request)
    if basic is None:
        return False
    client = request.client.host if request.client else "?"
    bans = login_bans(request)
    if bans.banned_for(client):
        return False
    if credentials_match(runtime, *basic):
        return True
    bans.failed(client)
    return False
