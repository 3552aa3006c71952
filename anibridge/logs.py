"""Logging set-up: one readable line per event, level from LOG_LEVEL.

Logged values often come from outside (a magnet's ``dn``, a provider's title, a Host header): a
newline in one would start a forged log line, an ANSI escape would repaint the terminal. The
handler's ``EscapeControls`` filter escapes control characters in every record's message once,
here, after its arguments are filled in, so no call site has to remember to.
"""

from __future__ import annotations

import logging
import sys

# C0 and C1 controls, DEL, Unicode line/paragraph separators and bidirectional overrides
_UNSAFE = [*range(0x00, 0x20), *range(0x7F, 0xA0), 0x2028, 0x2029, *range(0x202A, 0x202F), *range(0x2066, 0x206A)]
_NAMED = {0x0A: "\\n", 0x0D: "\\r", 0x09: "\\t"}
_ESCAPES = {c: _NAMED.get(c, f"\\x{c:02x}" if c < 0x100 else f"\\u{c:04x}") for c in _UNSAFE}


def escape_controls(text: str) -> str:
    """``text`` with control characters written as escapes (``\\n``, ``\\x1b``, ``\\u2028``)."""
    return text.translate(_ESCAPES)


class EscapeControls(logging.Filter):
    """Escapes control characters in a record's message as formatted with its arguments.

    The formatted message, not each argument: a ``%r`` argument is already escaped by ``repr`` and
    must not be escaped twice. A record that needs no escaping keeps its message and arguments."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken call: leave it to the formatter, which reports it as logging does
            return True
        escaped = escape_controls(message)
        if escaped != message:
            record.msg, record.args = escaped, None
        return True


def setup_logging(level: str = "INFO") -> None:
    root = logging.getLogger()
    if getattr(root, "_anibridge_configured", False):
        root.setLevel(level)
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s", "%Y-%m-%d %H:%M:%S"))
    handler.addFilter(EscapeControls())
    root.handlers[:] = [handler]
    root.setLevel(level)
    root._anibridge_configured = True  # type: ignore[attr-defined]
    for noisy in ("httpx", "httpcore", "uvicorn.access"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLevelName(level)))
