"""``keys import`` is restrictive (issue #16): only the named administration's keys, never a
longer validity than already trusted, never a revived or newly added revoked key."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bordersync.cli import main
from bordersync.security.keys import KeyStore
from bordersync.security.signing import TrustStore

T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def _partner(tmp_path: Path) -> tuple[KeyStore, str, str]:
    """A partner (MK) whose trust file also carries a key of a third administration (RS)."""
    mk = KeyStore(tmp_path / "mk")
    mk_kid = mk.generate("MK", T0).kid
    rs = KeyStore(tmp_path / "rs")
    rs_kid = rs.generate("RS", T0).kid
    mk.import_trust(rs.trust())
    return mk, mk_kid, rs_kid


def test_keys_import_took_keys_of_every_administration_in_the_file(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    mk, mk_kid, rs_kid = _partner(tmp_path)
    exported = tmp_path / "mk-trust.json"
    exported.write_text(json.dumps(mk.trust().to_json()))
    code = main(["keys", "import", "--admin", "MK", "--file", str(exported),
                 "--home", str(tmp_path / "al")])
    out, err = capsys.readouterr()
    assert code == 0 and out.strip() == f"updated {mk_kid}"
    assert f"refused {rs_kid}: not a key of MK" in err
    assert set(KeyStore(tmp_path / "al" / "keys").trust().keys) == {mk_kid}


def test_keys_import_without_admin_is_refused(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    mk, _, _ = _partner(tmp_path)
    exported = tmp_path / "mk-trust.json"
    exported.write_text(json.dumps(mk.trust().to_json()))
    code = main(["keys", "import", "--file", str(exported), "--home", str(tmp_path / "al")])
    assert code == 2 and "--admin" in capsys.readouterr().err


def test_keys_import_revived_an_expired_key(tmp_path: Path) -> None:
    mk, mk_kid, _ = _partner(tmp_path)
    mine = KeyStore(tmp_path / "al")
    mine.import_trust(mk.trust(), "MK")
    # Here the key has expired (rotated long ago); the partner's stale file has no end.
    ended = T0 + timedelta(days=1)
    key = mine.trust().keys[mk_kid]
    mine.save_trust(TrustStore({mk_kid: replace(key, not_after=ended)}))
    assert mine.import_trust(mk.trust(), "MK") == []
    assert mine.trust().keys[mk_kid].not_after == ended
    assert any("lengthen" in why for _, why in mine.refused)
    # Nor a later end, nor an earlier start.
    later = TrustStore({mk_kid: replace(key, not_after=ended + timedelta(days=30),
                                        not_before=T0 - timedelta(days=30))})
    mine.import_trust(later, "MK")
    kept = mine.trust().keys[mk_kid]
    assert (kept.not_before, kept.not_after) == (T0, ended)
    # Shortening is taken: a partner retiring its key is news we want.
    sooner = TrustStore({mk_kid: replace(key, not_after=T0 + timedelta(hours=1))})
    assert mine.import_trust(sooner, "MK") == [mk_kid]
    assert mine.trust().keys[mk_kid].not_after == T0 + timedelta(hours=1)


def test_keys_import_accepted_a_revoked_key(tmp_path: Path) -> None:
    mk, mk_kid, _ = _partner(tmp_path)
    key = mk.trust().keys[mk_kid]
    mine = KeyStore(tmp_path / "al")
    # A key the file itself marks revoked is not added...
    assert mine.import_trust(TrustStore({mk_kid: replace(key, revoked=True)}), "MK") == []
    assert mk_kid not in mine.trust().keys
    assert mine.refused == [(mk_kid, "revoked in the imported file")]
    # ...a revocation of a key we trust is taken, and a later file never revives it.
    mine.import_trust(mk.trust(), "MK")
    mine.import_trust(TrustStore({mk_kid: replace(key, revoked=True)}), "MK")
    assert mine.trust().keys[mk_kid].revoked
    assert mine.import_trust(mk.trust(), "MK") == []
    assert mine.trust().keys[mk_kid].revoked
    assert (mk_kid, "revoked here; an import never revives a key") in mine.refused
