"""JwksKeys: the public keys of a JWKS file or URL, by `kid`.

A URL is fetched at startup (a failure stops the startup) and again when a token names a
`kid` it does not hold (a rotated key), at most once per `min_refresh_interval` and one fetch
at a time: a
flood of made-up kids costs the key server one request per interval, not one per token. Keys
older than `max_age` are fetched again before they verify a token, so a key the issuer
withdrew (compromised, rotated out) stops being accepted within `max_age`. A failed refresh
keeps the keys it had.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jwt import PyJWK
from jwt.exceptions import PyJWKError

__all__ = ["JwksKeys", "KeyLoadError", "SigningKey"]

logger = logging.getLogger("gateway.identity")

MAX_JWKS_BYTES = 1 << 20
# The key type each algorithm family signs with (RFC 7518 and 8037).
_KEY_TYPES = {"RS": "RSA", "PS": "RSA", "ES": "EC", "Ed": "OKP"}


class KeyLoadError(Exception):
    """The JWKS could not be read, or holds no usable key."""


@dataclass(frozen=True, slots=True)
class SigningKey:
    kid: str | None
    key_type: str
    algorithm: str | None  # the JWK's own `alg`, when it names one
    key: Any  # the cryptography public key

    def signs(self, algorithm: str) -> bool:
        """Whether a token of `algorithm` may be verified with this key."""
        if self.algorithm is not None:
            return self.algorithm == algorithm
        return _KEY_TYPES.get(algorithm[:2]) == self.key_type


class JwksKeys:
    """Signing keys from `file` or `url` (exactly one)."""

    def __init__(
        self,
        *,
        file: Path | None = None,
        url: str | None = None,
        timeout: float = 5.0,
        min_refresh_interval: float = 30.0,
        max_age: float = 300.0,
    ) -> None:
        if (file is None) == (url is None):
            raise ValueError("JwksKeys needs a file or a URL")
        self.file = file
        self.url = url
        self.timeout = timeout
        self.min_refresh_interval = min(min_refresh_interval, max_age)
        self.max_age = max_age
        self._loaded_at = float("-inf")
        self._keys: list[SigningKey] = []
        self._fetched_at = float("-inf")
        self._refresh_lock = asyncio.Lock()

    async def load(self) -> None:
        """Read the keys now (startup); KeyLoadError says why not."""
        self._keys = await asyncio.to_thread(self._read)
        self._loaded_at = time.monotonic()

    async def key_for(self, kid: str | None, algorithm: str) -> SigningKey | None:
        """The key that verifies a token with this header, refreshing once for a new kid."""
        if self.url is not None and time.monotonic() - self._loaded_at > self.max_age:
            await self._refresh()
        key = self._find(kid, algorithm)
        if key is None and kid is not None and self.url is not None:
            await self._refresh()
            key = self._find(kid, algorithm)
        return key

    def _find(self, kid: str | None, algorithm: str) -> SigningKey | None:
        if kid is None:
            # No kid: only a set with a single key for this algorithm is unambiguous.
            candidates = [key for key in self._keys if key.signs(algorithm)]
            return candidates[0] if len(candidates) == 1 else None
        for key in self._keys:
            if key.kid == kid:
                return key if key.signs(algorithm) else None
        return None

    async def _refresh(self) -> None:
        async with self._refresh_lock:
            if time.monotonic() - self._fetched_at < self.min_refresh_interval:
                return
            self._fetched_at = time.monotonic()
            try:
                self._keys = await asyncio.to_thread(self._read)
                self._loaded_at = time.monotonic()
            except KeyLoadError as error:
                logger.warning("JWKS refresh failed, keeping the keys it had: %s", error)

    def _read(self) -> list[SigningKey]:
        if self.file is not None:
            try:
                text = self.file.read_bytes()
            except OSError as error:
                raise KeyLoadError(f"cannot read {self.file}: {error.strerror}") from None
        else:
            assert self.url is not None
            text = self._fetch(self.url)
        return _parse(text)

    def _fetch(self, url: str) -> bytes:
        if not url.startswith(("https://", "http://")):
            raise KeyLoadError("GATEWAY_JWKS_URL must be an http(s) URL")
        request = urllib.request.Request(url, headers={"accept": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                body: bytes = response.read(MAX_JWKS_BYTES + 1)
        except (OSError, ValueError) as error:
            raise KeyLoadError(f"cannot fetch {url}: {error}") from None
        if len(body) > MAX_JWKS_BYTES:
            raise KeyLoadError(f"{url} answered more than {MAX_JWKS_BYTES} bytes")
        return body


def _parse(text: bytes) -> list[SigningKey]:
    try:
        document = json.loads(text)
    except ValueError:
        raise KeyLoadError("the JWKS is not JSON") from None
    entries = document.get("keys") if isinstance(document, dict) else None
    if not isinstance(entries, list):
        raise KeyLoadError('the JWKS has no "keys" list')
    keys = []
    for entry in entries:
        if not isinstance(entry, dict) or entry.get("use", "sig") != "sig":
            continue
        if entry.get("kty") == "oct" or "d" in entry:
            continue  # a secret or private key has no place in a public key set
        try:
            jwk = PyJWK(entry)
        except PyJWKError:
            continue
        kid = entry.get("kid")
        keys.append(
            SigningKey(
                kid=kid if isinstance(kid, str) else None,
                key_type=str(entry.get("kty")),
                algorithm=entry.get("alg") if isinstance(entry.get("alg"), str) else None,
                key=jwk.key,
            )
        )
    if not keys:
        raise KeyLoadError("the JWKS holds no usable public signing key")
    return keys
