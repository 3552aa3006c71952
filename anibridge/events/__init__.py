"""The journal: event types, codec, append, read, verify."""

from . import types  # noqa: F401  (registers every event type)
from .journal import Journal, StoredEvent
from .registry import Event, EventDecodeError, decode, encode

__all__ = ["Event", "EventDecodeError", "Journal", "StoredEvent", "decode", "encode"]
