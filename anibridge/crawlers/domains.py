"""Which domain Megakino lives on this week.

Megakino moves about weekly (megakino.lol, megakino8.com, megakino1.to, ...): an old domain stops
answering or redirects to the new one. Unless MEGAKINO_BASE_URL pins a base URL, AniBridge probes
every candidate's ``/sitemap.xml`` (redirects followed, the token gate opened), takes the first
candidate, in configured order, whose sitemap answers, and uses the domain it ended on. It does so at
start-up and every MEGAKINO_DOMAIN_CHECK_INTERVAL_MIN minutes; a check first asks the domain in use,
so a domain that still answers costs one request. ``/health`` shows the domain and how it was found.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import urlsplit

import httpx

from ..config import Settings
from .fetch import DEFAULT_USER_AGENT
from .parsers.megakino import token_gate_path

log = logging.getLogger("anibridge.megakino")

PROBE_TIMEOUT_S = 6.0
PROBE_BYTES = 65536  # enough to tell a sitemap from an error page; sitemaps can be megabytes
SITEMAP = "/sitemap.xml"
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Probe:
    candidate: str
    base_url: str | None  # where the sitemap answered (after redirects); None: no sitemap there
    reason: str = ""  # why not, in words


@dataclass
class DomainState:
    base_url: str
    source: str  # "MEGAKINO_BASE_URL", "resolved", "not resolved yet", "no candidate answered"
    checked_at: float | None = None
    changed_at: float | None = None
    previous: str | None = None
    problem: str = ""
    tried: list[Probe] = field(default_factory=list)

    def view(self) -> dict[str, Any]:
        return {"domain": urlsplit(self.base_url).netloc, "base_url": self.base_url, "source": self.source,
                "checked_at": self.checked_at, "changed_at": self.changed_at, "previous": self.previous,
                "problem": self.problem,
                "candidates": {p.candidate: p.base_url or p.reason for p in self.tried}}


async def _read_head(client: httpx.AsyncClient, url: str) -> tuple[httpx.Response, str]:
    async with client.stream("GET", url, follow_redirects=True) as response:
        body = bytearray()
        async for chunk in response.aiter_bytes():
            body += chunk
            if len(body) >= PROBE_BYTES:
                break
    return response, body.decode("utf-8", errors="replace")


async def probe(client: httpx.AsyncClient, candidate: str) -> Probe:
    """Whether ``candidate``'s sitemap answers, and on which base URL (a redirect moves it)."""
    try:
        response, text = await _read_head(client, candidate + SITEMAP)
        if response.status_code == 200 and (opener := token_gate_path(text)):
            origin = str(response.url).removesuffix(SITEMAP)
            await _read_head(client, origin + opener)  # sets the token cookie
            response, text = await _read_head(client, candidate + SITEMAP)
    except httpx.TimeoutException:
        return Probe(candidate, None, f"no answer within {client.timeout.read or PROBE_TIMEOUT_S:g} s")
    except httpx.TooManyRedirects:
        return Probe(candidate, None, "redirects in a loop")
    except httpx.ConnectError as exc:
        return Probe(candidate, None, f"could not connect ({exc or type(exc).__name__})")
    except httpx.HTTPError as exc:
        return Probe(candidate, None, f"connection dropped without an answer ({type(exc).__name__})")
    if response.status_code != 200:
        return Probe(candidate, None, f"sitemap answered HTTP {response.status_code}")
    head = text.lstrip()[:4096].lower()
    if "<urlset" not in head and "<sitemapindex" not in head:
        what = "the token gate again" if token_gate_path(text) else "a page that is no sitemap"
        return Probe(candidate, None, f"sitemap answered {what}")
    final = str(response.url)
    if not urlsplit(final).path.endswith(SITEMAP):
        return Probe(candidate, None, f"sitemap redirected to {final}, not to a sitemap")
    return Probe(candidate, final[: -len(SITEMAP)])


async def find_live(candidates: list[str], current: str | None = None,
                    timeout: float = PROBE_TIMEOUT_S) -> tuple[str | None, list[Probe]]:
    """The live base URL (None if no candidate answers) and every probe made, in candidate order."""
    limits = httpx.Limits(max_connections=len(candidates) + 1)
    async with httpx.AsyncClient(headers={"User-Agent": DEFAULT_USER_AGENT}, timeout=timeout,
                                 limits=limits, max_redirects=5) as client:
        if current:
            first = await probe(client, current)
            if first.base_url:
                return first.base_url, [first]
        probes = list(await asyncio.gather(*(probe(client, c) for c in candidates if c != current)))
    if current:
        probes.insert(0, first)
    live = next((p.base_url for p in probes if p.base_url), None)
    return live, probes


def _in_own_loop(work: Coroutine[Any, Any, T]) -> T:
    """Run ``work`` to completion on a fresh event loop in a helper thread: callers may be inside a
    running loop (the server's start-up runs in its lifespan)."""
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["value"] = asyncio.run(work)
        except BaseException as exc:  # handed to the caller
            outcome["error"] = exc

    thread = threading.Thread(target=run, name="megakino-domain-check", daemon=True)
    thread.start()
    thread.join()
    if "error" in outcome:
        raise outcome["error"]
    value: T = outcome["value"]
    return value


class MegakinoDomain:
    """The Megakino base URL in use, kept current. ``start`` checks now and then on a schedule."""

    def __init__(self, settings: Settings, timeout: float = PROBE_TIMEOUT_S) -> None:
        self.settings = settings
        self.timeout = timeout
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        pinned = settings.megakino_base_url
        self.state = DomainState(settings.megakino_url, "MEGAKINO_BASE_URL" if pinned else "not resolved yet")

    @property
    def pinned(self) -> bool:
        return self.settings.megakino_base_url is not None

    def check(self) -> DomainState:
        """Probe now (the domain in use first, then every candidate); record and return the outcome."""
        if self.pinned:
            return self.state
        with self._lock:
            current = self.state.base_url if self.state.checked_at is not None else None
            live, probes = _in_own_loop(find_live(self.settings.megakino_candidates, current, self.timeout))
            now = time.time()
            old = self.state
            if live is None:
                reasons = "; ".join(f"{p.candidate.split('://', 1)[-1]}: {p.reason}" for p in probes)
                problem = f"no Megakino domain answered ({reasons})"
                log.error("megakino: %s; staying with %s", problem, old.base_url)
                self.state = DomainState(old.base_url, "no candidate answered", now, old.changed_at, old.previous,
                                         problem, probes)
                return self.state
            moved = old.checked_at is not None and live != old.base_url
            if moved:
                log.warning("megakino: moved from %s to %s", old.base_url, live)
            elif old.checked_at is None or old.problem:
                log.info("megakino: live domain is %s", live)
            self.settings.use_megakino_url(live)
            self.state = DomainState(live, "resolved", now, now if moved or old.checked_at is None else old.changed_at,
                                     old.base_url if moved else old.previous, "", probes)
            return self.state

    def ensure_checked(self) -> DomainState:
        """Check once if nothing was checked yet (a download before any crawl); otherwise the last state."""
        if not self.pinned and self.state.checked_at is None:
            return self.check()
        return self.state

    def start(self) -> None:
        """Check now (start-up), then every MEGAKINO_DOMAIN_CHECK_INTERVAL_MIN minutes in a thread."""
        if self.pinned or self._thread is not None:
            return
        self.check()
        minutes = self.settings.megakino_domain_check_interval_min
        if minutes <= 0:
            return
        self._thread = threading.Thread(target=self._loop, args=(minutes * 60.0,), name="megakino-domain",
                                        daemon=True)
        self._thread.start()

    def _loop(self, seconds: float) -> None:
        while not self._stop.wait(seconds):
            try:
                self.check()
            except Exception:  # a bug must not end the checks for the rest of the run
                log.exception("megakino: domain check failed unexpectedly")

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
