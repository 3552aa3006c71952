"""Banning an address after repeated failed qBittorrent logins, as qBittorrent's WebUI does.

qBittorrent (``WebApplication::validateCredentials``) counts failed logins per client address; when
the count reaches ``web_ui_max_auth_fail_count`` the address is banned for ``web_ui_ban_duration``
seconds, and while banned every login - the right one too - is answered ``403`` with "Your IP address
has been banned after too many failed authentication attempts." A successful login clears the count.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass

BANNED_MESSAGE = "Your IP address has been banned after too many failed authentication attempts."
# Addresses remembered at most (failed counts and bans); the oldest entry goes first. Bounded so that
# many addresses (an IPv6 prefix) cannot grow the table without end.
MAX_TRACKED = 10_000


@dataclass
class _Failures:
    count: int = 0
    banned_until: float = 0.0


class LoginBans:
    def __init__(self, max_failures: int, ban_seconds: float, clock=time.monotonic) -> None:
        self.max_failures = max_failures
        self.ban_seconds = ban_seconds
        self._clock = clock
        self._by_address: OrderedDict[str, _Failures] = OrderedDict()
        self._lock = threading.Lock()

    def banned_for(self, address: str) -> float:
        """Seconds left of the address's ban (0: not banned); an expired ban is forgotten."""
        with self._lock:
            entry = self._by_address.get(address)
            if entry is None or not entry.banned_until:
                return 0.0
            left = entry.banned_until - self._clock()
            if left <= 0:
                del self._by_address[address]
                return 0.0
            return left

    def failed(self, address: str) -> int:
        """Count a failed login; returns the address's count (the ban starts when it reaches the maximum)."""
        if self.max_failures <= 0:
            return 0
        with self._lock:
            entry = self._by_address.pop(address, None) or _Failures()
            entry.count += 1
            if entry.count >= self.max_failures and not entry.banned_until:
                entry.banned_until = self._clock() + self.ban_seconds
            self._by_address[address] = entry
            while len(self._by_address) > MAX_TRACKED:
                self._by_address.popitem(last=False)
            return entry.count

    def succeeded(self, address: str) -> None:
        with self._lock:
            self._by_address.pop(address, None)
