"""Files the tool writes: whole or not at all, and digests of files it reads.

One home for atomic writes: a folder or file is written under a hidden temporary name beside its
target and renamed into place at the end, so an interruption never leaves half of it visible.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import tempfile
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def _sigterm_as_interrupt():
    """Turn SIGTERM into KeyboardInterrupt while writing, so cleanup runs."""

    def handler(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")

    try:
        previous = signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextmanager
def atomic_folder(target: Path):
    """Yield a hidden temporary folder beside ``target``; on success it replaces ``target`` whole.

    On any exception (KeyboardInterrupt and SIGTERM included) the temporary folder is
    removed and an existing ``target`` is left as it was.
    """
    target = Path(target).resolve()
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".partial", dir=target.parent))
    tmp.chmod(0o777 & ~_umask())  # mkdtemp makes 0700; a plan folder gets the usual permissions
    old = None
    try:
        with _sigterm_as_interrupt():
            yield tmp
            if target.exists():
                old = target.parent / f".{target.name}.old-{os.getpid()}"
                os.rename(target, old)
            os.rename(tmp, target)
            tmp = None
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
            if old is not None and not target.exists():
                os.rename(old, target)  # put the previous folder back
                old = None
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
