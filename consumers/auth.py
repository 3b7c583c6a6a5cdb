"""Who may ask the agency API: OIDC bearer tokens (JWT) or an agency's client certificate.

Tokens are checked by joserfc against the issuer's published keys (a JWKS file or URL), never by
hand: signature, algorithm (asymmetric only, so a public key can never be used as an HMAC secret),
issuer, audience and expiry. The agency and the officer come from the claims; a certificate
names its agency in its subject. Without a configured issuer the API runs in dev mode: a local
signing key under ``$BORDERSYNC_HOME/api/`` issues the tokens (``bordersync api token``), so the
demo works with one command while nothing else changes on the checking side.
"""

from __future__ import annotations

import json
import os
import threading
import time
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from joserfc import errors, jwt
from joserfc.jwk import ECKey, KeySet

from bordersync.settings import Settings

ALGORITHMS = ("ES256", "ES384", "RS256", "PS256", "EdDSA")
DEV_KID = "bordersync-dev-1"
DEV_TTL_SECONDS = 12 * 3600
LEEWAY_SECONDS = 30
JWKS_CACHE_SECONDS = 300.0
JWKS_MIN_REFRESH_SECONDS = 30.0
# Scope that lets a principal export its agency's audit log; officers look vehicles up.
SCOPE_LOOKUP = "lookup"
SCOPE_AUDIT = "audit"


class AuthError(Exception):
    """Raised with the HTTP status (401 no/invalid credentials, 403 not entitled, 503 issuer keys
    unreachable) and why."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


@dataclass(frozen=True)
class Principal:
    """An authenticated caller: its agency, the officer (or certificate) and what it may do."""

    agency: str
    officer: str
    method: str
    scopes: frozenset[str] = field(default_factory=frozenset)

    @property
    def client_id(self) -> str:
        """The key for rate limiting and the audit log's ``who``."""
        return f"{self.agency}/{self.officer}"


def dev_key_path(settings: Settings) -> Path:
    return settings.home / "api" / "dev-issuer.jwk.json"


def dev_key(settings: Settings) -> ECKey:
    """The dev issuer's P-256 private key, created (mode 0600) on first use."""
    path = dev_key_path(settings)
    if path.exists():
        return ECKey.import_key(json.loads(path.read_text("utf-8")))
    key = ECKey.generate_key("P-256", parameters={"kid": DEV_KID, "use": "sig", "alg": "ES256"},
                             private=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        json.dump(key.as_dict(private=True), out)
    os.replace(tmp, path)  # two processes racing both write a valid key; the last one wins
    return ECKey.import_key(json.loads(path.read_text("utf-8")))


def issue_dev_token(settings: Settings, agency: str, officer: str,
                    scopes: tuple[str, ...] = (SCOPE_LOOKUP,), ttl: int = DEV_TTL_SECONDS,
                    now: float | None = None) -> str:
    """A token of the dev issuer (``settings.api_issuer``) for one officer of one agency."""
    issued = int(time.time() if now is None else now)
    claims = {"iss": settings.api_issuer, "aud": settings.api_audience, "sub": officer,
              "officer": officer, "agency": agency, "scope": " ".join(scopes),
              "iat": issued, "nbf": issued, "exp": issued + ttl}
    return jwt.encode({"alg": "ES256", "kid": DEV_KID, "typ": "JWT"}, claims, dev_key(settings))


class KeySource:
    """The issuer's public keys: the dev key, a JWKS file (re-read when it changes) or a URL
    (cached; fetched again on an unknown key id, at most every 30 s, so rotation just works)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._lock = threading.Lock()
        self._keys: KeySet | None = None
        self._loaded_at = 0.0
        self._stamp: float | None = None

    def _fetch(self) -> KeySet:
        where = self.settings.api_jwks
        if where is None:
            return KeySet([ECKey.import_key(dev_key(self.settings).as_dict(private=False))])
        if where.startswith(("https://", "http://")):
            with urllib.request.urlopen(where, timeout=5) as resp:  # the configured issuer URL
                data = json.loads(resp.read())
        else:
            data = json.loads(Path(where).read_text("utf-8"))
        # Only public parts are ever used, whatever the file holds.
        return KeySet.import_key_set({"keys": [_public(k) for k in data.get("keys", [])]})

    def _stale(self, now: float) -> bool:
        where = self.settings.api_jwks
        if where is not None and not where.startswith(("https://", "http://")):
            return Path(where).stat().st_mtime != self._stamp
        return now - self._loaded_at > JWKS_CACHE_SECONDS

    def keys(self, kid: str | None) -> KeySet:
        now = time.monotonic()
        with self._lock:
            unknown = (self._keys is not None and kid is not None
                       and all(k.kid != kid for k in self._keys.keys)
                       and now - self._loaded_at > JWKS_MIN_REFRESH_SECONDS)
            if self._keys is None or unknown or self._stale(now):
                self._keys = self._fetch()
                self._loaded_at = now
                where = self.settings.api_jwks
                if where is not None and not where.startswith(("https://", "http://")):
                    self._stamp = Path(where).stat().st_mtime
            return self._keys


def _public(key: Mapping[str, Any]) -> dict[str, Any]:
    private = {"d", "p", "q", "dp", "dq", "qi", "oth", "k"}
    return {k: v for k, v in key.items() if k not in private}


class Authenticator:
    """Turns credentials into a ``Principal`` and says whether it may read ``agency``'s model."""

    def __init__(self, settings: Settings, agency: str) -> None:
        self.settings = settings
        self.agency = agency
        self.source = KeySource(settings)

    def bearer(self, token: str) -> Principal:
        """Raises ``AuthError(401)`` for anything but a valid token of the configured issuer."""
        try:
            header = json.loads(_b64(token.split(".")[0]))
            kid = header.get("kid") if isinstance(header, dict) else None
            found = jwt.decode(token, self.source.keys(kid if isinstance(kid, str) else None),
                               algorithms=list(ALGORITHMS))
            registry = jwt.JWTClaimsRegistry(
                leeway=LEEWAY_SECONDS,
                iss={"essential": True, "value": self.settings.api_issuer},
                aud={"essential": True, "value": self.settings.api_audience},
                exp={"essential": True},
                agency={"essential": True},
            )
            registry.validate(found.claims)
        except errors.JoseError as exc:
            raise AuthError(401, f"invalid bearer token: {exc.error}") from exc
        except OSError as exc:
            # The issuer's keys could not be read: the token may be fine, the server is not.
            raise AuthError(503, "the token issuer's keys are unavailable; try again") from exc
        except (ValueError, IndexError) as exc:
            raise AuthError(401, f"invalid bearer token: {type(exc).__name__}") from exc
        claims = found.claims
        agency = claims.get("agency")
        officer = claims.get("officer") or claims.get("sub")
        if not isinstance(agency, str) or not isinstance(officer, str) or not officer:
            raise AuthError(401, "invalid bearer token: 'agency' and 'officer' (or 'sub') "
                                 "must be strings")
        scope = claims.get("scope", SCOPE_LOOKUP)
        scopes = frozenset(scope.split()) if isinstance(scope, str) else frozenset()
        return Principal(agency, officer, "bearer", scopes)

    def certificate(self, peercert: Mapping[str, Any]) -> Principal:
        """A client certificate verified by the TLS layer against the client CA; its subject's
        commonName is the agency. It stands for the agency's system, so it may do everything."""
        subject = {k: v for rdn in peercert.get("subject", ()) for k, v in rdn}
        agency = subject.get("commonName")
        if not isinstance(agency, str) or not agency:
            raise AuthError(401, "client certificate without a commonName")
        serial = str(peercert.get("serialNumber", "?"))
        return Principal(agency, f"cert:{serial}", "mtls",
                         frozenset({SCOPE_LOOKUP, SCOPE_AUDIT}))

    def authorise(self, principal: Principal, scope: str) -> None:
        """Raises ``AuthError(403)`` unless the principal belongs to this API's agency and
        holds ``scope``: one agency's credentials never read another agency's read model."""
        if principal.agency != self.agency:
            raise AuthError(403, f"credentials of agency {principal.agency!r} cannot read the "
                                 f"read model of {self.agency!r}")
        if scope not in principal.scopes:
            raise AuthError(403, f"this credential lacks the {scope!r} scope")


def _b64(part: str) -> bytes:
    import base64

    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
