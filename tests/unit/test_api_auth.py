"""Bearer tokens and certificates of the agency API (consumers/auth.py): only tokens of the
configured issuer, for this audience, unexpired, asymmetrically signed, naming an agency, pass;
one agency's credentials never open another agency's read model."""

from __future__ import annotations

import base64
import http.server
import json
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from joserfc import jwt
from joserfc.jwk import ECKey, OctKey, RSAKey

from bordersync.settings import Settings
from consumers.auth import (
    SCOPE_AUDIT,
    SCOPE_LOOKUP,
    Authenticator,
    AuthError,
    Principal,
    dev_key,
    dev_key_path,
    issue_dev_token,
)

AGENCY = "al-customs"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(home=tmp_path)


def claims(settings: Settings, **over: object) -> dict[str, object]:
    now = int(time.time())
    return {"iss": settings.api_issuer, "aud": settings.api_audience, "sub": "o1",
            "agency": AGENCY, "scope": "lookup", "iat": now, "exp": now + 600, **over}


def rejected(auth: Authenticator, token: str) -> str:
    with pytest.raises(AuthError) as caught:
        auth.bearer(token)
    assert caught.value.status == 401
    return caught.value.detail


def test_dev_token_names_agency_officer_and_scopes(settings: Settings) -> None:
    token = issue_dev_token(settings, AGENCY, "ana", (SCOPE_LOOKUP, SCOPE_AUDIT))
    found = Authenticator(settings, AGENCY).bearer(token)
    assert found == Principal(AGENCY, "ana", "bearer", frozenset({SCOPE_LOOKUP, SCOPE_AUDIT}))
    assert dev_key_path(settings).stat().st_mode & 0o077 == 0  # private key: owner only


def test_expired_not_yet_valid_wrong_issuer_or_audience_are_rejected(settings: Settings) -> None:
    auth = Authenticator(settings, AGENCY)
    key = dev_key(settings)
    header = {"alg": "ES256", "kid": key.kid}
    now = int(time.time())
    for bad in (claims(settings, exp=now - 120), claims(settings, nbf=now + 600),
                claims(settings, iss="https://elsewhere"), claims(settings, aud="other-api"),
                {k: v for k, v in claims(settings).items() if k != "exp"},
                {k: v for k, v in claims(settings).items() if k != "agency"}):
        rejected(auth, jwt.encode(header, bad, key))
    rejected(auth, jwt.encode(header, claims(settings, agency=7), key))


def test_unsigned_symmetric_foreign_and_tampered_tokens_are_rejected(settings: Settings) -> None:
    auth = Authenticator(settings, AGENCY)
    key = dev_key(settings)

    def b64(value: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")

    rejected(auth, f"{b64({'alg': 'none', 'kid': key.kid})}.{b64(claims(settings))}.")
    # Algorithm confusion: the public key's bytes used as an HMAC secret.
    secret = OctKey.import_key(json.dumps(key.as_dict(private=False)).encode())
    rejected(auth, jwt.encode({"alg": "HS256", "kid": key.kid}, claims(settings), secret,
                              algorithms=["HS256"]))
    stranger = ECKey.generate_key("P-256", parameters={"kid": key.kid}, private=True)
    rejected(auth, jwt.encode({"alg": "ES256", "kid": key.kid}, claims(settings), stranger))
    good = issue_dev_token(settings, AGENCY, "o1")
    head, body, sig = good.split(".")
    forged = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    forged["agency"] = "mk-customs"
    rejected(auth, f"{head}.{b64(forged)}.{sig}")
    for junk in ("", "abc", "a.b.c", "..", "x" * 5000):
        rejected(auth, junk)


def test_other_agency_or_missing_scope_is_forbidden(settings: Settings) -> None:
    auth = Authenticator(settings, AGENCY)
    theirs = auth.bearer(issue_dev_token(settings, "mk-customs", "o2"))
    with pytest.raises(AuthError) as caught:
        auth.authorise(theirs, SCOPE_LOOKUP)
    assert caught.value.status == 403 and "mk-customs" in caught.value.detail
    mine = auth.bearer(issue_dev_token(settings, AGENCY, "o1"))
    auth.authorise(mine, SCOPE_LOOKUP)
    with pytest.raises(AuthError) as scope:
        auth.authorise(mine, SCOPE_AUDIT)
    assert scope.value.status == 403


def test_certificate_subject_names_the_agency(settings: Settings) -> None:
    auth = Authenticator(settings, AGENCY)
    cert = {"subject": ((("countryName", "AL"),), (("commonName", AGENCY),)),
            "serialNumber": "0A1B"}
    found = auth.certificate(cert)
    assert found.agency == AGENCY and found.officer == "cert:0A1B" and found.method == "mtls"
    auth.authorise(found, SCOPE_AUDIT)
    with pytest.raises(AuthError):
        auth.certificate({"subject": ((("organizationName", "x"),),)})


def _issuer(kid: str) -> RSAKey:
    return RSAKey.generate_key(2048, parameters={"kid": kid}, private=True)


def test_jwks_file_of_a_real_issuer_and_its_rotation(tmp_path: Path) -> None:
    jwks = tmp_path / "jwks.json"
    first = _issuer("k1")
    jwks.write_text(json.dumps({"keys": [first.as_dict(private=False)]}))
    settings = Settings(home=tmp_path, api_jwks=str(jwks), api_issuer="https://idp.example")
    auth = Authenticator(settings, AGENCY)
    old = jwt.encode({"alg": "RS256", "kid": "k1"}, claims(settings), first)
    assert auth.bearer(old).officer == "o1"
    # A dev token is worthless once a real issuer is configured.
    rejected(auth, issue_dev_token(Settings(home=tmp_path), AGENCY, "o1"))
    second = _issuer("k2")
    time.sleep(0.01)
    jwks.write_text(json.dumps({"keys": [second.as_dict(private=False)]}))
    os.utime(jwks, (time.time() + 5, time.time() + 5))  # a changed file is re-read
    assert auth.bearer(jwt.encode({"alg": "RS256", "kid": "k2"}, claims(settings),
                                  second)).agency == AGENCY
    rejected(auth, old)


@pytest.fixture
def jwks_server() -> Iterator[tuple[str, dict[str, object]]]:
    published: dict[str, object] = {"keys": []}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = json.dumps(published).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/jwks.json", published
    server.shutdown()


def test_jwks_url_is_fetched_and_cached(tmp_path: Path,
                                        jwks_server: tuple[str, dict[str, object]]) -> None:
    url, published = jwks_server
    key = _issuer("u1")
    published["keys"] = [key.as_dict(private=False)]
    settings = Settings(home=tmp_path, api_jwks=url, api_issuer="https://idp.example")
    auth = Authenticator(settings, AGENCY)
    token = jwt.encode({"alg": "RS256", "kid": "u1"}, claims(settings), key)
    assert auth.bearer(token).agency == AGENCY
    published["keys"] = []  # cached: the issuer being briefly unreachable or empty is harmless
    assert auth.bearer(token).agency == AGENCY


def test_unreachable_issuer_keys_are_a_server_problem_not_a_bad_token(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path, api_jwks="http://127.0.0.1:9/jwks.json",
                        api_issuer="https://idp.example")
    key = _issuer("z1")
    token = jwt.encode({"alg": "RS256", "kid": "z1"}, claims(settings), key)
    with pytest.raises(AuthError) as caught:
        Authenticator(settings, AGENCY).bearer(token)
    assert caught.value.status == 503
