"""A polite async page fetcher for one provider site.

One ``Fetcher`` per site: it bounds concurrency, keeps connections alive, retries what is worth
retrying (timeouts, dropped connections, 429, 5xx, challenge pages) with jittered exponential
backoff, and reports what went wrong in plain words. A 429 or a challenge page (Cloudflare, DDoS-Guard)
pauses the whole site, not just the request that met it: the provider is telling us to slow down.

A site that answers under several host names (s.to) gets the others as ``fallback_base_urls``: when
the current one cannot be reached (name not resolved, connection refused) or answers a challenge, the
next is tried at once. Challenges met and host changes are kept in ``challenges`` and ``host_changes``
for the caller to record (crawlers/site_state.py).
"""

from __future__ import annotations

import asyncio
import logging
import random
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from types import TracebackType
from urllib.parse import urljoin

import httpx

from ..netguard import ACCEPT_ENCODING, BlockedAddress, TooLarge, read_limited

log = logging.getLogger("anibridge.fetch")

DEFAULT_USER_AGENT = (
    "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0 AniBridge/0.1"
)
_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
MAX_PAGE_BYTES = 16 * 1024 * 1024  # PROVIDER_MAX_PAGE_MB
FETCH_DEADLINE_S = 120.0  # PROVIDER_FETCH_DEADLINE_SECONDS
_CHALLENGE_MARKERS = ("just a moment", "cf-turnstile", "challenge-platform", "cf-chl-")
_DDOS_GUARD_MARKERS = ("ddos-guard", "ddos guard", "/.well-known/ddos-guard/")
# what s.to's play URL (/r?t=...) answers with HTTP 200 instead of redirecting to the host
_PLAY_CHALLENGES = (("captcha-form", "captcha page"), ("cf-turnstile", "captcha page"),
                    ("stream wird vorbereitet", "'Stream wird vorbereitet' page"))
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?([A-Za-z0-9_.:-]+)""", re.IGNORECASE)


class FetchError(Exception):
    """A page could not be fetched; ``reason`` says why in plain words."""

    def __init__(self, url: str, reason: str, *, status: int | None = None, attempts: int = 1) -> None:
        super().__init__(f"{url}: {reason}")
        self.url = url
        self.reason = reason
        self.status = status
        self.attempts = attempts


class NotFound(FetchError):
    """HTTP 404/410: the page is gone. Never retried."""


class ChallengeError(FetchError):
    """The site answered a challenge (a captcha, "Stream wird vorbereitet") instead of what was asked."""

    def __init__(self, url: str, reason: str, *, kind: str, status: int | None = None, attempts: int = 1) -> None:
        super().__init__(url, reason, status=status, attempts=attempts)
        self.kind = kind


@dataclass(frozen=True, slots=True)
class Page:
    url: str
    status: int
    text: str
    elapsed: float  # seconds, retries and backoff included
    attempts: int = 1


class _Retry(Exception):
    """One attempt failed in a way worth retrying."""

    def __init__(self, reason: str, *, status: int | None = None, delay: float | None = None,
                 site_pause: bool = False, challenge: bool = False, unreachable: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status
        self.delay = delay  # server-requested delay (Retry-After), already capped
        self.site_pause = site_pause
        self.challenge = challenge
        self.unreachable = unreachable  # no connection at all (name not resolved, refused)


class Fetcher:
    """``async with Fetcher("https://aniworld.to") as f: page = await f.get("/animes-alphabet")``."""

    def __init__(
        self,
        base_url: str,
        *,
        concurrency: int = 4,
        connect_timeout: float = 10.0,
        read_timeout: float = 30.0,
        user_agent: str = DEFAULT_USER_AGENT,
        max_retries: int = 4,
        backoff_base: float = 0.5,
        backoff_cap: float = 30.0,
        challenge_backoff_base: float = 5.0,
        retry_after_max: float = 120.0,
        headers: dict[str, str] | None = None,
        fallback_base_urls: Sequence[str] = (),
        gate: Callable[[str], str | None] | None = None,
        max_bytes: int = MAX_PAGE_BYTES,
        deadline: float = FETCH_DEADLINE_S,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        """``gate``: given a page's text, the path that opens the site's token gate when the page is that
        gate (the cookie it sets is kept and the page fetched again), else None."""
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        if max_retries < 0:
            raise ValueError("max_retries must not be negative")
        self.base_url = base_url.rstrip("/")
        self._bases = list(dict.fromkeys([self.base_url, *(u.rstrip("/") for u in fallback_base_urls if u)]))
        self._tried_bases = {self.base_url}
        self.challenges: list[tuple[str, str]] = []  # (kind, url) of every challenge page met
        self.host_changes: list[tuple[str, str, str]] = []  # (old base, new base, why)
        self.concurrency = concurrency
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.max_retries = max_retries
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.challenge_backoff_base = challenge_backoff_base
        self.retry_after_max = retry_after_max
        self.max_bytes = max_bytes  # decompressed: a gzip bomb or an endless page fails at this size
        self.deadline = deadline  # per attempt, however slowly the bytes drip in
        self._transport = transport
        self._headers = {
            "User-Agent": user_agent,
            "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
            "Accept-Language": "de-DE,de;q=0.9,en;q=0.6",
            "Accept-Encoding": ACCEPT_ENCODING,
            **(headers or {}),
        }
        self._gate = gate
        self._semaphore = asyncio.Semaphore(concurrency)
        self._client: httpx.AsyncClient | None = None
        self._paused_until = 0.0  # monotonic time before which no request goes to this site
        self.requests = 0
        self.retries = 0
        self.failures = 0
        self.not_found = 0
        self.bytes = 0
        self.gates_opened = 0

    # --- lifecycle ------------------------------------------------------------------------------
    async def __aenter__(self) -> Fetcher:
        self._client = httpx.AsyncClient(
            headers=self._headers,
            timeout=httpx.Timeout(self.read_timeout, connect=self.connect_timeout, pool=None),
            limits=httpx.Limits(max_connections=self.concurrency,
                                max_keepalive_connections=self.concurrency, keepalive_expiry=30.0),
            follow_redirects=True,
            transport=self._transport,
        )
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    def counters(self) -> dict[str, int]:
        return {"requests": self.requests, "retries": self.retries, "failures": self.failures,
                "not_found": self.not_found, "bytes": self.bytes}

    def url_for(self, path_or_url: str) -> str:
        """Absolute URL: paths are appended to base_url verbatim, so a base path prefix survives."""
        if path_or_url.startswith(("http://", "https://")):
            return path_or_url
        if path_or_url.startswith("//"):
            return httpx.URL(self.base_url).scheme + ":" + path_or_url
        if not path_or_url.startswith("/"):
            path_or_url = "/" + path_or_url
        return self.base_url + path_or_url

    # --- public calls ---------------------------------------------------------------------------
    async def get(self, path_or_url: str) -> Page:
        url = self.url_for(path_or_url)
        started = time.monotonic()
        response, attempts = await self._with_retries(url, follow_redirects=True)
        text = decode_body(response)
        if self._gate is not None and (opener := self._gate(text)) is not None:
            _, opened = await self._with_retries(self.url_for(opener), follow_redirects=True)
            response, again = await self._with_retries(url, follow_redirects=True)
            text, attempts = decode_body(response), attempts + opened + again
            self.gates_opened += 1
            if self._gate(text) is not None:
                self.failures += 1
                raise FetchError(url, f"token gate did not open (asked {opener}, got the gate again)",
                                 status=response.status_code, attempts=attempts)
        return Page(url=str(response.url), status=response.status_code, text=text,
                    elapsed=time.monotonic() - started, attempts=attempts)

    async def follow_redirect_location(self, path_or_url: str) -> str:
        """GET without following redirects; the absolute URL the page redirects to."""
        url = self.url_for(path_or_url)
        response, attempts = await self._with_retries(url, follow_redirects=False)
        location = response.headers.get("location", "").strip()
        if response.status_code == 200 and (kind := _play_challenge_kind(response)):
            self.challenges.append((kind, url))
            raise ChallengeError(url, f"answered a {kind} instead of redirecting to the host",
                                 kind=kind, status=200, attempts=attempts)
        if response.status_code not in _REDIRECT_STATUSES or not location:
            self.failures += 1
            raise FetchError(url, f"expected a redirect, got HTTP {response.status_code}"
                             + ("" if location else " without a Location header"),
                             status=response.status_code, attempts=attempts)
        return urljoin(str(response.url), location)

    # --- retry loop -----------------------------------------------------------------------------
    async def _with_retries(self, url: str, *, follow_redirects: bool) -> tuple[httpx.Response, int]:
        attempts = self.max_retries + 1
        last: _Retry | None = None
        delay = 0.0
        attempt = 0
        while attempt < attempts:
            if attempt:
                self.retries += 1
                await asyncio.sleep(delay)
            try:
                return await self._attempt(url, follow_redirects), attempt + 1
            except _Retry as retry:
                last = retry
                if retry.challenge or retry.unreachable:
                    other = self._switch_base(url, retry.reason)
                    if other is not None:  # another host name of the site, tried at once (once each)
                        url = other
                        continue
                delay = self._delay(attempt, retry)
                if retry.site_pause:
                    self._pause_site(delay)
                attempt += 1
        assert last is not None
        self.failures += 1
        if last.status is not None and not last.challenge:
            reason = f"{last.reason} after {attempts} attempts"
        else:
            reason = f"{last.reason}; gave up after {attempts} attempts"
        raise FetchError(url, reason, status=last.status, attempts=attempts)

    def _switch_base(self, url: str, reason: str) -> str | None:
        """``url`` on the site's next untried host name, which becomes the current one; None if none is left."""
        current = self.base_url
        if not url.startswith(current):
            return None  # not a page of this site (an absolute URL elsewhere)
        other = next((base for base in self._bases if base not in self._tried_bases), None)
        if other is None:
            return None
        self._tried_bases.add(other)
        self.base_url = other
        self.host_changes.append((current, other, reason))
        log.warning("%s: %s; switching to %s", current, reason, other)
        return other + url[len(current):]

    def _delay(self, retry_index: int, retry: _Retry | None) -> float:
        if retry is not None and retry.delay is not None:
            return retry.delay
        if retry is not None and retry.challenge:
            # half fixed, half jitter: a challenge must never be retried almost at once. The back-off
            # (PROVIDER_CHALLENGE_BACKOFF_SECONDS) may be longer than a server's Retry-After cap.
            cap = max(self.retry_after_max, self.challenge_backoff_base)
            ceiling = min(cap, self.challenge_backoff_base * 2**retry_index)
            return ceiling / 2 + random.uniform(0, ceiling / 2)
        return random.uniform(0, min(self.backoff_cap, self.backoff_base * 2**retry_index))

    def _pause_site(self, seconds: float) -> None:
        self._paused_until = max(self._paused_until, time.monotonic() + seconds)

    async def _wait_site_pause(self) -> None:
        wait = self._paused_until - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)

    async def _attempt(self, url: str, follow_redirects: bool) -> httpx.Response:
        assert self._client is not None, "use 'async with Fetcher(...)'"
        await self._wait_site_pause()
        async with self._semaphore:
            await self._wait_site_pause()  # a pause may have begun while we queued
            self.requests += 1
            try:
                async with asyncio.timeout(self.deadline):
                    response = await self._read(url, follow_redirects)
            except TimeoutError as exc:
                raise _Retry(f"no complete answer within {self.deadline:g} s") from exc
            except httpx.TimeoutException as exc:
                raise _Retry(self._timeout_reason(exc), unreachable=isinstance(exc, httpx.ConnectTimeout)) from exc
            except httpx.TransportError as exc:
                raise _Retry(_transport_reason(exc), unreachable=isinstance(exc, httpx.ConnectError)) from exc
            except BlockedAddress as exc:
                self.failures += 1
                raise FetchError(url, exc.reason) from None
            except httpx.DecodingError as exc:
                self.failures += 1
                raise FetchError(url, str(exc)) from None
        self.bytes += len(response.content)
        return self._check(url, response)

    async def _read(self, url: str, follow_redirects: bool) -> httpx.Response:
        """The response with its body read, at most ``max_bytes`` after decompression."""
        assert self._client is not None
        async with self._client.stream("GET", url, follow_redirects=follow_redirects) as response:
            try:
                content = await read_limited(response, self.max_bytes)
            except TooLarge:
                self.failures += 1
                raise FetchError(url, f"answer larger than {self.max_bytes // (1024 * 1024)} MiB"
                                 " (PROVIDER_MAX_PAGE_MB); not reading more") from None
        # The body as read (decoded); the headers still name the transfer encoding, which is done.
        return httpx.Response(response.status_code, headers=_plain_headers(response.headers),
                              content=content, request=response.request,
                              extensions=response.extensions)

    def _check(self, url: str, response: httpx.Response) -> httpx.Response:
        status = response.status_code
        if status in (404, 410):
            self.not_found += 1
            raise NotFound(url, f"HTTP {status} not found", status=status)
        if status in (403, 503):
            kind = _challenge_kind(response)
            if kind:
                self.challenges.append((kind, url))
                raise _Retry(f"challenge page ({kind})", status=status, site_pause=True, challenge=True)
        if status == 429:
            raise _Retry("HTTP 429 too many requests", status=status,
                         delay=self._retry_after(response), site_pause=True)
        if status >= 500:
            raise _Retry(f"HTTP {status}", status=status, delay=self._retry_after(response))
        if status >= 400:
            self.failures += 1
            raise FetchError(url, f"HTTP {status}", status=status)
        return response

    def _retry_after(self, response: httpx.Response) -> float | None:
        seconds = parse_retry_after(response.headers.get("retry-after"))
        return None if seconds is None else min(seconds, self.retry_after_max)

    def _timeout_reason(self, exc: httpx.TimeoutException) -> str:
        if isinstance(exc, httpx.ConnectTimeout):
            return f"connect timed out after {self.connect_timeout:g} s"
        if isinstance(exc, httpx.PoolTimeout):
            return "timed out waiting for a free connection"
        return f"timed out after {self.read_timeout:g} s"


def _plain_headers(headers: httpx.Headers) -> list[tuple[str, str]]:
    return [(k, v) for k, v in headers.multi_items() if k.lower() not in ("content-encoding", "content-length")]


def _transport_reason(exc: httpx.TransportError) -> str:
    text = str(exc).lower()
    if isinstance(exc, httpx.RemoteProtocolError):
        if "without sending" in text and "response" in text:
            return "connection reset (server closed the connection without answering)"
        if "incomplete" in text or "complete message body" in text or "content-length" in text:
            return "truncated body (connection closed before the whole page arrived)"
        return f"protocol error ({exc})"
    if isinstance(exc, httpx.ConnectError):
        return f"could not connect ({exc or type(exc).__name__})"
    if isinstance(exc, httpx.ReadError):
        return "connection reset while reading the page"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def _challenge_kind(response: httpx.Response) -> str | None:
    head = response.content[:65536].decode("utf-8", errors="replace").lower()
    cookies = " ".join(response.headers.get_list("set-cookie")).lower()
    if ("ddos-guard" in response.headers.get("server", "").lower() or "__ddg" in cookies
            or any(marker in head for marker in _DDOS_GUARD_MARKERS)):
        return "DDoS-Guard"
    if not any(marker in head for marker in _CHALLENGE_MARKERS):
        return None
    return "Cloudflare Turnstile" if "turnstile" in head else "Cloudflare challenge"


def _play_challenge_kind(response: httpx.Response) -> str | None:
    """What a play URL answered with HTTP 200 instead of a redirect, if it is a challenge page."""
    head = response.content[:65536].decode("utf-8", errors="replace").lower()
    return next((kind for marker, kind in _PLAY_CHALLENGES if marker in head), None)


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header: delta-seconds or an HTTP-date."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def decode_body(response: httpx.Response) -> str:
    """Text in the declared charset (header, else <meta>); undecodable pages become utf-8 with U+FFFD."""
    raw = response.content
    declared = response.charset_encoding or _meta_charset(raw) or "utf-8"
    try:
        return raw.decode(declared)
    except (LookupError, UnicodeDecodeError):
        return raw.decode("utf-8", errors="replace")


def _meta_charset(raw: bytes) -> str | None:
    match = _META_CHARSET.search(raw[:2048])
    return match.group(1).decode("ascii") if match else None


__all__ = ["DEFAULT_USER_AGENT", "ChallengeError", "FetchError", "Fetcher", "NotFound", "Page", "decode_body",
                      "parse_retry_after"]
