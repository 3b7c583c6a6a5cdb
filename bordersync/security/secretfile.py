"""Secret files: written readable by the owner only (0600) from the moment they exist (``os.open``
with the mode, never ``chmod`` afterwards), so a key or password is never world-readable, not even
briefly. Credentials stores and the dev stack's TLS CA (``tooling.tlsca``) write through it."""

from __future__ import annotations

import os
from pathlib import Path


def write_secret(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` readable by the owner only (0600), replacing atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    tmp.replace(path)
