"""Fault injection: per-site, per-path rules applied by an outermost ASGI middleware."""

from __future__ import annotations

import asyncio
import random
import re
import socket
import struct
import threading
from dataclasses import dataclass, field
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

# challenge: a block page (status 403; kind "ddos-guard" for DDoS-Guard's, else Cloudflare's).
# captcha / preparing: what s.to's play URL (/r?t=) answers with HTTP 200 instead of a redirect.
MODES = ("latency", "429", "503", "reset", "truncate", "challenge", "malformed", "slow", "captcha", "preparing")
FAULT_SITES = ("aniworld", "sto", "megakino", "skyhook", "hosts", "*")
MALFORMED_KINDS = ("no_table", "no_numbers", "latin1", "garbage", "no_flags")

CHALLENGE_HTML = (
    '<!DOCTYPE html><html lang="en-US"><head><title>Just a moment...</title>'
    '<meta http-equiv="refresh" content="390"><meta name="robots" content="noindex,nofollow"></head>'
    '<body><div class="main-wrapper" role="main"><div class="main-content">'
    '<h1 class="zone-name-title h1">Verifying you are human. This may take a few seconds.</h1>'
    '<div id="challenge-stage"><div class="cf-turnstile" data-sitekey="0x4AAAAAAADnPIDROrmt1Wwj"></div></div>'
    '<noscript>Enable JavaScript and cookies to continue</noscript></div></div>'
    '<script src="https://challenges.cloudflare.com/turnstile/v0/api.js" async defer></script>'
    "<script>window._cf_chl_opt={cType: 'managed'};</script></body></html>"
)


DDOS_GUARD_HTML = (
    '<!DOCTYPE html><html><head><title>DDoS-Guard</title><meta charset="utf-8"></head><body>'
    '<div id="ddg-splash"><h1>Checking your browser before accessing the website.</h1>'
    "<p>This process is automatic. Your browser will redirect to your requested content shortly.</p></div>"
    '<script src="/.well-known/ddos-guard/check?context=free_splash"></script>'
    '<p class="ddg-footer">DDoS protection by DDoS-Guard</p></body></html>'
)
CAPTCHA_HTML = (
    '<!DOCTYPE html><html lang="de"><head><meta charset="utf-8"><title>Captcha</title></head><body>'
    "<p>Bitte löse das Captcha, um fortzufahren.</p>"
    '<form id="captcha-form" method="post"><div class="cf-turnstile" data-sitekey="0x4AAAAAAA"></div>'
    '<button type="submit">Weiter</button></form></body></html>'
)
PREPARING_HTML = (
    '<!DOCTYPE html><html lang="de"><head><meta charset="utf-8"><title>Bitte warten</title></head><body>'
    "<h1>Stream wird vorbereitet</h1><p>Bitte warte einen Moment, der Stream wird vorbereitet ...</p>"
    "</body></html>"
)


@dataclass
class FaultRule:
    mode: str
    site: str = "*"
    path: str = ".*"
    times: int | None = None
    probability: float | None = None
    seconds: float = 1.0  # latency
    retry_after: int = 1  # 429 / 503
    status: int = 403  # challenge
    kind: str = "no_table"  # malformed
    interval: float = 1.0  # slow
    max_seconds: float = 600.0  # slow: give up even if the client stays
    hits: int = 0
    _regex: re.Pattern[str] = field(init=False, repr=False)
    _rng: random.Random = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"unknown fault mode {self.mode!r}; one of {MODES}")
        if self.site not in FAULT_SITES:
            raise ValueError(f"unknown fault site {self.site!r}; one of {FAULT_SITES}")
        if self.mode == "malformed" and self.kind not in MALFORMED_KINDS:
            raise ValueError(f"unknown malformed kind {self.kind!r}; one of {MALFORMED_KINDS}")
        self._regex = re.compile(self.path)
        self._rng = random.Random(f"fault:{self.site}:{self.path}:{self.mode}")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FaultRule:
        allowed = {k: v for k, v in data.items() if k in cls.__dataclass_fields__ and not k.startswith("_")}
        allowed.pop("hits", None)
        return cls(**allowed)

    def as_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__ if not k.startswith("_")}


class FaultSet:
    def __init__(self, rules: list[dict[str, Any]] | None = None) -> None:
        self._lock = threading.Lock()
        self.rules: list[FaultRule] = [FaultRule.from_dict(r) for r in rules or []]

    def set(self, rules: list[dict[str, Any]], append: bool = False) -> None:
        parsed = [FaultRule.from_dict(r) for r in rules]
        with self._lock:
            self.rules = [*self.rules, *parsed] if append else parsed

    def clear(self) -> None:
        with self._lock:
            self.rules = []

    def pick(self, site: str, path: str) -> FaultRule | None:
        with self._lock:
            for rule in self.rules:
                if rule.site not in ("*", site) or not rule._regex.search(path):
                    continue
                if rule.times is not None and rule.hits >= rule.times:
                    continue
                if rule.probability is not None and rule._rng.random() >= rule.probability:
                    continue
                rule.hits += 1
                return rule
        return None


def _uvicorn_cycle(send: Send) -> tuple[Any, asyncio.Transport | None]:
    # uvicorn's send is a bound method of its RequestResponseCycle, which owns the transport.
    owner = getattr(send, "__self__", None)
    return owner, getattr(owner, "transport", None)


async def reset_connection(send: Send) -> None:
    """Abort the connection with a TCP RST: the client sees no answer at all."""
    owner, transport = _uvicorn_cycle(send)
    if transport is None:
        raise ConnectionResetError("devworld: injected connection reset")
    sock = transport.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # RST, not FIN
    transport.abort()
    owner.disconnected = True


async def _simple(send: Send, status: int, body: bytes, headers: dict[str, str]) -> None:
    raw = [(k.lower().encode(), v.encode()) for k, v in headers.items()]
    raw.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


async def _capture(app: ASGIApp, scope: Scope, receive: Receive) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    status, headers, chunks = 200, [], []

    async def collect(message: Message) -> None:
        nonlocal status, headers
        if message["type"] == "http.response.start":
            status, headers = message["status"], list(message.get("headers", []))
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await app(scope, receive, collect)
    return status, headers, b"".join(chunks)


def malform(body: bytes, kind: str) -> bytes:
    text = body.decode("utf-8", errors="replace")
    if kind == "no_table":
        text = re.sub(r'<table class="seasonEpisodesList".*?</table>', "", text, flags=re.S)
        text = re.sub(r"<li [^>]*data-lang-key.*?</li>", "", text, flags=re.S)
        text = re.sub(r"<button [^>]*data-play-url.*?</button>", "", text, flags=re.S)
        text = re.sub(r"<iframe [^>]*></iframe>", "", text)
        return text.encode()
    if kind == "no_numbers":
        text = re.sub(r'(itemprop="episodeNumber" content=)"\d+"', r'\1""', text)
        text = re.sub(r"(episode|film|staffel)-\d+", r"\1-", text)
        text = re.sub(r'data-language-id="\d+"', "", text)
        text = re.sub(r'<span class="year">\d+</span>', '<span class="year"></span>', text)
        return text.encode()
    if kind == "no_flags":  # language flags gone from season pages (rows and hosters stay)
        text = re.sub(r'<svg class="watch-language[^"]*".*?</svg>', "", text, flags=re.S)
        text = re.sub(r'<img class="flag"[^>]*>', "", text)
        return text.encode()
    if kind == "latin1":
        return text.encode("latin-1", errors="replace")
    return body[: max(1, len(body) // 2)].replace(b"</", b"<")


async def _truncate(app: ASGIApp, scope: Scope, receive: Receive, send: Send) -> None:
    status, headers, body = await _capture(app, scope, receive)
    headers = [(k, v) for k, v in headers if k.lower() != b"content-length"]
    headers.append((b"content-length", str(len(body) + 1024).encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body[: len(body) // 2], "more_body": True})
    owner, transport = _uvicorn_cycle(send)
    if transport is None:
        raise ConnectionAbortedError("devworld: injected truncation")
    transport.close()  # flushes what was written, then FIN: the client sees a short body
    owner.disconnected = True


async def _slow(rule: FaultRule, scope: Scope, receive: Receive, send: Send) -> None:
    headers = [(b"content-type", b"text/html; charset=utf-8")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    owner, _ = _uvicorn_cycle(send)

    async def wait_disconnect() -> None:
        while (await receive())["type"] != "http.disconnect":
            pass

    watcher = asyncio.ensure_future(wait_disconnect())
    try:
        elapsed = 0.0
        while elapsed < rule.max_seconds and not getattr(owner, "disconnected", False):
            await send({"type": "http.response.body", "body": b"<", "more_body": True})
            done, _ = await asyncio.wait({watcher}, timeout=rule.interval)
            if done:
                return
            elapsed += rule.interval
        if not getattr(owner, "disconnected", False):
            await send({"type": "http.response.body", "body": b"", "more_body": False})
    finally:
        watcher.cancel()


async def apply(rule: FaultRule, app: ASGIApp, scope: Scope, receive: Receive, send: Send) -> None:
    mode = rule.mode
    if mode == "latency":
        await asyncio.sleep(rule.seconds)
        await app(scope, receive, send)
    elif mode in ("429", "503"):
        body = b"Too Many Requests" if mode == "429" else b"Service Unavailable"
        await _simple(send, int(mode), body, {"Retry-After": str(rule.retry_after), "Content-Type": "text/plain"})
    elif mode == "reset":
        await reset_connection(send)
    elif mode == "truncate":
        await _truncate(app, scope, receive, send)
    elif mode == "challenge" and rule.kind == "ddos-guard":
        headers = {"Content-Type": "text/html; charset=UTF-8", "Server": "ddos-guard",
                   "Set-Cookie": "__ddg1_=Zx9bQk2v; Path=/; HttpOnly"}
        await _simple(send, rule.status, DDOS_GUARD_HTML.encode(), headers)
    elif mode == "challenge":
        headers = {"Content-Type": "text/html; charset=UTF-8", "Server": "cloudflare", "cf-mitigated": "challenge"}
        await _simple(send, rule.status, CHALLENGE_HTML.encode(), headers)
    elif mode in ("captcha", "preparing"):
        body = CAPTCHA_HTML if mode == "captcha" else PREPARING_HTML
        await _simple(send, 200, body.encode(), {"Content-Type": "text/html; charset=UTF-8"})
    elif mode == "malformed":
        status, headers, body = await _capture(app, scope, receive)
        body = malform(body, rule.kind)
        headers = [(k, v) for k, v in headers if k.lower() != b"content-length"]
        headers.append((b"content-length", str(len(body)).encode()))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
    else:
        await _slow(rule, scope, receive, send)
