"""Redis per agency (issue #16): every agency's read model sat behind one shared password. Each
agency's consumer and API now log in as the agency's own Redis ACL user, limited to its key
prefix; no anonymous access."""

from __future__ import annotations

import pytest
import redis

from bordersync.security import acl
from consumers.readmodel import Keys, Write
from consumers.sink import RedisSink
from tests.integration.secure.conftest import SecureStack


def _client(secure: SecureStack, agency: str) -> redis.Redis:
    client: redis.Redis = redis.Redis.from_url(secure.redis_url(acl.agency(agency)),
                                               decode_responses=True, socket_timeout=5)
    return client


def test_one_agency_cannot_read_or_write_another_agencys_read_model(
        secure_stack: SecureStack) -> None:
    mk, al = _client(secure_stack, "mk-customs"), _client(secure_stack, "al-customs")
    settings = secure_stack.base
    mk_keys, al_keys = Keys.of(settings, "mk-customs"), Keys.of(settings, "al-customs")
    secret = al_keys.crossings("AA111BB")
    al.hset(secret, "al-1", "{}")
    assert al.hgetall(secret) == {"al-1": "{}"}
    mk.hset(mk_keys.crossings("SK1AA"), "mk-1", "{}")
    for attempt in (lambda: mk.hgetall(secret), lambda: mk.get(al_keys.marker()),
                    lambda: mk.delete(secret), lambda: mk.hset(secret, "x", "y")):
        with pytest.raises(redis.exceptions.NoPermissionError):
            attempt()
    # The consumer's batch script is checked key by key too: MK's user cannot write AL's model.
    sink = RedisSink(mk, al_keys, 3600)
    with pytest.raises(redis.exceptions.ResponseError, match=r"(?i)noperm|permission|can't access"):
        sink.apply([Write("crossings", "AA111BB", "x",
                          (("hset", al_keys.crossings("AA111BB"), "f", "v"),))],
                   expect_marker=False)
    assert RedisSink(mk, mk_keys, 3600).apply(
        [Write("crossings", "SK1AA", "y", (("hset", mk_keys.crossings("SK1AA"), "f", "v"),))],
        expect_marker=False) == (1, 0)
    # Nothing dangerous, nothing server-wide.
    for command in (("FLUSHALL",), ("KEYS", "*"), ("CONFIG", "GET", "*"), ("ACL", "LIST")):
        with pytest.raises(redis.exceptions.NoPermissionError):
            mk.execute_command(*command)


def test_no_anonymous_or_wrong_password_access(secure_stack: SecureStack) -> None:
    anonymous = redis.Redis(port=secure_stack.redis_port, socket_timeout=5)
    with pytest.raises(redis.exceptions.AuthenticationError):
        anonymous.get("bs:bordersync:mk-customs:marker")
    wrong = redis.Redis(port=secure_stack.redis_port, username=acl.agency("mk-customs"),
                        password="not-the-password", socket_timeout=5)
    with pytest.raises(redis.exceptions.AuthenticationError):
        wrong.ping()
