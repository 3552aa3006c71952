"""Signing and checking STRM proxy URLs (STRM_PROXY_AUTH = token, apikey or none).

``token``: an HMAC-SHA256 ``sig`` over the URL's other query parameters (sorted, form-encoded), keyed
with STRM_PROXY_SECRET; ``exp`` (Unix seconds) in the signed parameters makes it expire. The scheme is
the one AniBridge 2.5 used, so ``.strm`` files it wrote keep playing with the same secret.
``apikey``: the secret itself as ``apikey``. ``none``: no check (a trusted LAN only).
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlencode

if TYPE_CHECKING:
    from ..config import Settings


class AuthError(Exception):
    """The request's STRM credentials are missing, wrong or expired (HTTP 401)."""


@dataclass(frozen=True, slots=True)
class Signer:
    mode: str  # token | apikey | none
    secret: str
    ttl: int  # seconds a signed proxy URL stays valid

    def sign(self, params: Mapping[str, str], *, expires: bool = True, extra_seconds: float = 0.0) -> dict[str, str]:
        """The parameters plus what authenticates them (``exp``/``sig``, ``apikey`` or nothing).

        ``expires=False`` is for the stable URL inside a ``.strm`` file, which must keep working.
        """
        out = dict(params)
        if self.mode == "apikey":
            out["apikey"] = self.secret
        elif self.mode == "token":
            if expires:
                out["exp"] = str(int(time.time() + self.ttl + extra_seconds))
            out["sig"] = signature(out, self.secret)
        return out

    def check(self, params: Mapping[str, str], *, require_expiry: bool = False) -> None:
        """Raise AuthError unless ``params`` carry valid credentials for this mode."""
        if self.mode == "none":
            return
        if self.mode == "apikey":
            if not hmac.compare_digest(params.get("apikey", "").encode(), self.secret.encode()):
                raise AuthError("missing or wrong apikey")
            return
        sig = params.get("sig", "")
        if not sig:
            raise AuthError("the URL is not signed (no sig)")
        signed = {k: v for k, v in params.items() if k != "sig"}
        exp = signed.get("exp")
        if exp is None and require_expiry:
            raise AuthError("the URL has no expiry (exp)")
        if exp is not None:
            if not exp.isdigit():
                raise AuthError("the URL's expiry (exp) is not a number")
            if time.time() > int(exp):
                raise AuthError("the URL has expired; play the .strm file again for a fresh one")
        if not hmac.compare_digest(sig.encode(), signature(signed, self.secret).encode()):
            raise AuthError("the URL's signature does not match (changed, or another STRM_PROXY_SECRET)")


def signature(params: Mapping[str, str], secret: str) -> str:
    canonical = urlencode(sorted(params.items()))
    return hmac.new(secret.encode(), canonical.encode(), hashlib.sha256).hexdigest()


def signer_of(settings: Settings) -> Signer:
    return Signer(settings.strm_proxy_auth, settings.strm_proxy_secret, settings.strm_proxy_token_ttl_seconds)
