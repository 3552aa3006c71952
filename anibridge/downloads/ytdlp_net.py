"""yt-dlp's own requests, guarded and watched.

yt-dlp sends every request (the media URL, each redirect hop, HLS playlists, keys and segments)
through its request handlers. ``GuardedYoutubeDL`` gives it one handler only: urllib's, whose
connections resolve the host, check the addresses with the ``AddressPolicy`` and connect to a
checked address. Their sockets report every byte to a ``DownloadWatch``, which stops the download
(in at most a second, even while a host sends nothing) when it is cancelled, when the host is too
slow for too long, when more arrives than an episode can be, or when the disk runs low.
"""

from __future__ import annotations

import http.client
import shutil
import socket
import ssl
import threading
import time
from pathlib import Path
from typing import Any

import yt_dlp
from yt_dlp.networking._urllib import HTTPHandler, UrllibRH

from ..netguard import AddressPolicy, BlockedAddress

POLL_SECONDS = 0.5
MIN_RATE = 8 * 1024  # bytes per second a download must average over each stall window
DISK_CHECK_SECONDS = 2.0
MIB = 1024 * 1024


class DownloadStopped(OSError):
    """The watch stopped the download; ``reason`` says why in plain words."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class DownloadWatch:
    """Shared by every connection of one download; thread-safe."""

    def __init__(self, *, cancel: threading.Event, max_bytes: int, stall_seconds: float, folder: Path,
                 min_free_bytes: int) -> None:
        self.cancel = cancel
        self.max_bytes = max_bytes
        self.stall_seconds = stall_seconds
        self.folder = folder
        self.min_free_bytes = min_free_bytes
        self.received = 0
        self.reason: str | None = None
        self.cancelled = False
        self._lock = threading.Lock()
        now = time.monotonic()
        self._window_start, self._window_bytes, self._disk_checked = now, 0, 0.0

    def stop(self, reason: str) -> None:
        with self._lock:
            self.reason = self.reason or reason

    def check(self) -> None:
        """Raise DownloadStopped if this download must end now."""
        if self.cancel.is_set():
            self.cancelled = True
            raise DownloadStopped("the download was cancelled")
        now = time.monotonic()
        with self._lock:
            if self.reason is None and now - self._window_start >= self.stall_seconds:
                if self._window_bytes < MIN_RATE * self.stall_seconds:
                    self.reason = (f"the host sent only {self._window_bytes} bytes in {self.stall_seconds:g} s"
                                   f" (less than {MIN_RATE // 1024} KiB/s); giving up (DOWNLOAD_STALL_SECONDS)")
                self._window_start, self._window_bytes = now, 0
            check_disk = now - self._disk_checked >= DISK_CHECK_SECONDS
            if check_disk:
                self._disk_checked = now
        if check_disk and self.reason is None:
            self._check_disk()
        if self.reason is not None:
            raise DownloadStopped(self.reason)

    def _check_disk(self) -> None:
        try:
            free = shutil.disk_usage(self.folder).free
        except OSError:
            return
        if free < self.min_free_bytes:
            self.stop(f"only {free // MIB} MiB left on the download disk (DOWNLOAD_MIN_FREE_GB keeps"
                      f" {self.min_free_bytes // MIB} MiB free)")

    def got(self, count: int) -> None:
        with self._lock:
            self.received += count
            self._window_bytes += count
            if self.received > self.max_bytes and self.reason is None:
                self.reason = (f"the host sent more than {self.max_bytes / (1024 * MIB):g} GiB, more than an"
                               " episode can be (DOWNLOAD_MAX_SIZE_GB)")


def _watched_recv(sock: Any, base_recv: Any, watch: DownloadWatch, args: tuple[Any, ...]) -> int:
    """``recv_into`` in slices of at most POLL_SECONDS, so the watch is consulted even when nothing comes."""
    timeout = sock.gettimeout()
    waited = 0.0
    while True:
        watch.check()
        piece = POLL_SECONDS if timeout is None else min(POLL_SECONDS, timeout)
        sock.settimeout(piece)
        try:
            count: int = base_recv(*args)
        except TimeoutError:
            waited += piece
            if timeout is not None and waited >= timeout:
                raise
            continue
        finally:
            sock.settimeout(timeout)
        watch.got(count)
        return count


class _WatchedSocket(socket.socket):
    watch: DownloadWatch

    def recv_into(self, *args: Any) -> int:  # type: ignore[override]
        return _watched_recv(self, super().recv_into, self.watch, args)


class _WatchedSSLSocket(ssl.SSLSocket):
    watch: DownloadWatch

    def recv_into(self, *args: Any) -> int:  # type: ignore[override]
        return _watched_recv(self, super().recv_into, self.watch, args)


class _GuardedOpen:
    """``http_open``/``https_open`` of yt-dlp's HTTP handler with connections from ``connect``."""

    def __init__(self, handler: HTTPHandler, connect: Any) -> None:
        self._handler = handler
        self._connect = connect

    def _factory(self, conn_class: type[http.client.HTTPConnection]) -> Any:
        def connection(*args: Any, **kwargs: Any) -> http.client.HTTPConnection:
            conn = conn_class(*args, **kwargs)
            conn._create_connection = self._connect  # type: ignore[attr-defined]
            return conn

        return connection

    def http_open(self, req: Any) -> Any:
        return self._handler.do_open(self._factory(http.client.HTTPConnection), req)

    def https_open(self, req: Any) -> Any:
        return self._handler.do_open(self._factory(http.client.HTTPSConnection), req,
                                     context=self._handler._context)


class GuardedUrllibRH(UrllibRH):
    """urllib handler whose connections pass the address check and report to the watch."""

    policy: AddressPolicy
    watch: DownloadWatch
    _SUPPORTED_URL_SCHEMES = ("http", "https")
    _SUPPORTED_PROXY_SCHEMES = ()

    def _make_sslcontext(self, legacy_ssl_support: bool | None = None) -> ssl.SSLContext:
        context = super()._make_sslcontext(legacy_ssl_support=legacy_ssl_support)
        context.sslsocket_class = type("WatchedSSLSocket", (_WatchedSSLSocket,), {"watch": self.watch})
        return context

    def _create_instance(self, proxies: Any, cookiejar: Any, legacy_ssl_support: Any = None) -> Any:
        opener = super()._create_instance({}, cookiejar, legacy_ssl_support)
        handler = next(h for h in opener.handlers if isinstance(h, HTTPHandler))
        # yt-dlp's HTTP handler keeps its request/response processing; only opening connections changes.
        opener.handle_open["http"] = opener.handle_open["https"] = [_GuardedOpen(handler, self._open_socket)]
        return opener

    def _open_socket(self, address: tuple[str, int], timeout: Any = socket._GLOBAL_DEFAULT_TIMEOUT,
                     source_address: Any = None) -> socket.socket:
        self.watch.check()
        host, port = address
        error: OSError | None = None
        try:
            infos = self.policy.resolve(host, port)
        except BlockedAddress as exc:
            self.watch.stop(exc.reason)  # yt-dlp would skip a refused HLS segment; the whole download ends
            raise
        for family, kind, proto, _, sockaddr in infos:
            sock = _WatchedSocket(family, kind, proto)
            sock.watch = self.watch
            try:
                if timeout is not socket._GLOBAL_DEFAULT_TIMEOUT:
                    sock.settimeout(timeout)
                sock.connect(sockaddr)
                return sock
            except OSError as exc:
                sock.close()
                error = exc
        assert error is not None
        raise error


class GuardedYoutubeDL(yt_dlp.YoutubeDL):
    """A YoutubeDL whose only request handler is ``GuardedUrllibRH`` bound to one policy and watch."""

    def __init__(self, params: dict[str, Any], *, policy: AddressPolicy, watch: DownloadWatch) -> None:
        self._handler_class = type("GuardedUrllibRH", (GuardedUrllibRH,), {"policy": policy, "watch": watch})
        super().__init__(params)

    def build_request_director(self, handlers: Any, preferences: Any = None) -> Any:
        return super().build_request_director([self._handler_class], preferences)


__all__ = ["DownloadStopped", "DownloadWatch", "GuardedYoutubeDL"]
