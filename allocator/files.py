"""Files the tool writes: whole or not at all, never over what it did not write.

One home for writing outputs (shared/SPEC.md, "Output folders"):

* :func:`atomic_file` / :func:`write_text_atomic` -- a file is written under a unique hidden
  temporary name beside its target (created exclusively, so a symlink planted there is never
  followed) and renamed over the target at the end;
* :func:`atomic_folder` -- a folder is written the same way and replaces its target whole;
* :func:`claim_output_folder` -- before anything is written, an ``-o`` folder is checked: a
  folder that does not exist is created, an existing one may be replaced only when it is
  empty or holds this tool's own ``summary.json``; the current directory, an input folder, a
  folder containing an input or the current directory, and anything else are refused
  (:class:`OutputRefused`, exit 2) and nothing is deleted;
* temporary names carry the writer's process id, so that the hidden leftovers of a process
  that was killed (SIGKILL) are removed by the next write to the same place.

Every summary.json the tool writes carries ``"written_by": "allocator"`` (:data:`OWNER_MARK`).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import signal
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from allocator.problems import AllocatorError, Interrupted, some_of

OWNER_MARK = {"written_by": "allocator"}  # in every summary.json this tool writes
SUMMARY_FILE = "summary.json"
TEMP_SUFFIX = ".partial"
OLD_SUFFIX = ".old"


class OutputRefused(AllocatorError):
    """An output path the tool will not write to (exit 2): nothing was written or deleted."""


# --------------------------------------------------------------------------- ownership


def is_ours(folder: Path) -> bool:
    """True when ``folder`` holds a summary.json this tool wrote (a plan, a sweep, a year, an instance)."""
    path = Path(folder) / SUMMARY_FILE
    if not path.is_file() or path.is_symlink():
        return False
    try:
        summary = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return False
    return isinstance(summary, dict) and (
        summary.get("written_by") == OWNER_MARK["written_by"] or "allocator_version" in summary
    )


def claim_output_folder(target: Path, inputs: Sequence[Path] = (), what: str = "output folder") -> Path:
    """Check that ``target`` may be written (see the module docstring); return it resolved.

    ``inputs`` are the folders the command reads (the instance, a plan): the target may be
    none of them and may not contain one. Raises :class:`OutputRefused` otherwise.
    """
    raw = Path(target)
    if str(target) == "":
        raise OutputRefused(f"the {what} is empty: give a folder to write (-o DIR)")
    if raw.is_symlink():
        raise OutputRefused(f"{what} '{target}' is a symbolic link: give a real folder")
    resolved = raw.resolve()
    cwd = Path.cwd().resolve()
    if resolved == cwd or _contains(resolved, cwd):
        raise OutputRefused(f"{what} '{target}' is or contains the current directory: give a new folder inside it")
    for given in inputs:
        source = Path(given).resolve()
        if resolved == source:
            raise OutputRefused(f"{what} '{target}' is the input folder '{given}': give another folder")
        if _contains(resolved, source):
            raise OutputRefused(f"{what} '{target}' contains the input folder '{given}': give another folder")
    for parent in resolved.parents:
        if parent.exists() and not parent.is_dir():
            raise OutputRefused(f"cannot write {what} '{target}': '{parent}' is a file, not a folder")
    if resolved.exists():
        if not resolved.is_dir():
            raise OutputRefused(f"{what} '{target}' is a file: give a folder (it is left as it is)")
        if any(resolved.iterdir()) and not is_ours(resolved):
            names = sorted(p.name for p in resolved.iterdir())
            shown = some_of(names, 5)
            raise OutputRefused(
                f"{what} '{target}' already holds files this tool did not write ({shown}; no summary.json of "
                "allocator): give a new or empty folder; nothing was deleted"
            )
    return resolved


def _contains(folder: Path, other: Path) -> bool:
    return folder in other.parents


# --------------------------------------------------------------------------- temporary names


def _temp_prefix(target: Path) -> str:
    return f".{target.name}.{os.getpid()}."


_TEMP_NAME = re.compile(r"^\.(?P<name>.+)\.(?P<pid>\d+)\.[A-Za-z0-9_]+(?:\.partial|\.old)$")


def remove_stale_temps(target: Path) -> list[Path]:
    """Remove hidden temporaries of ``target`` left by processes that no longer run; return them."""
    target = Path(target)
    parent = target.parent
    removed: list[Path] = []
    if not parent.is_dir():
        return removed
    for entry in parent.iterdir():
        match = _TEMP_NAME.match(entry.name)
        if not match or match.group("name") != target.name or _alive(int(match.group("pid"))):
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
        removed.append(entry)
    return removed


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


# --------------------------------------------------------------------------- atomic writes


@contextmanager
def _sigterm_as_interrupt():
    """Turn SIGTERM into :class:`allocator.problems.Interrupted` while writing, so cleanup runs."""

    def handler(signum, frame):
        raise Interrupted(signum)

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
def atomic_file(path: Path) -> Iterator[Path]:
    """Yield a fresh hidden temporary path beside ``path``; on success it replaces ``path``.

    The temporary file is created exclusively (``mkstemp``): a file or symlink already at a
    temporary name is never written through. On any exception it is removed.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temps(path)
    handle, name = tempfile.mkstemp(prefix=_temp_prefix(path), suffix=TEMP_SUFFIX, dir=path.parent)
    os.close(handle)
    tmp = Path(name)
    try:
        with _sigterm_as_interrupt():
            yield tmp
            os.chmod(tmp, 0o666 & ~_umask())
            os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_text_atomic(path: Path, text: str) -> Path:
    """Write ``text`` (UTF-8, newlines as given) to ``path`` whole or not at all."""
    with atomic_file(path) as tmp:
        tmp.write_text(text, encoding="utf-8", newline="")
    return Path(path)


@contextmanager
def atomic_folder(target: Path) -> Iterator[Path]:
    """Yield a hidden temporary folder beside ``target``; on success it replaces ``target`` whole.

    Check ``target`` with :func:`claim_output_folder` first. On any exception
    (KeyboardInterrupt and SIGTERM included) the temporary folder is removed and an existing
    ``target`` is left as it was.
    """
    target = Path(target).resolve()
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temps(target)
    tmp = Path(tempfile.mkdtemp(prefix=_temp_prefix(target), suffix=TEMP_SUFFIX, dir=target.parent))
    tmp.chmod(0o777 & ~_umask())  # mkdtemp makes 0700; a plan folder gets the usual permissions
    old = None
    try:
        with _sigterm_as_interrupt():
            yield tmp
            if target.exists():
                old = Path(tempfile.mkdtemp(prefix=_temp_prefix(target), suffix=OLD_SUFFIX, dir=target.parent))
                os.rename(target, old / "previous")
            os.rename(tmp, target)
            tmp = None
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
            if old is not None and not target.exists() and (old / "previous").exists():
                os.rename(old / "previous", target)  # put the previous folder back
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)


def write_summary(folder: Path, summary: dict) -> Path:
    """summary.json of a folder this tool writes (atomically), with the owner mark first."""
    return write_text_atomic(Path(folder) / SUMMARY_FILE, json.dumps({**OWNER_MARK, **summary}, indent=2) + "\n")


def start_incremental_folder(target: Path, inputs: Sequence[Path], resume: bool, kind: str) -> Path:
    """The folder of an output written as it goes (a sweep, a bench, a year), ready to write into.

    Checked like every output (:func:`claim_output_folder`). With ``resume`` an existing folder
    of ours is continued; without it, it is replaced by an empty one (the old one is moved
    aside under a hidden name and deleted). A summary.json with ``"status": "running"`` is
    written first, so an interrupted run leaves a folder this tool owns and can resume.
    """
    resolved = claim_output_folder(target, inputs, f"{kind} folder")
    if resolved.exists() and any(resolved.iterdir()) and not resume:
        remove_stale_temps(resolved)
        aside = Path(tempfile.mkdtemp(prefix=_temp_prefix(resolved), suffix=OLD_SUFFIX, dir=resolved.parent))
        os.rename(resolved, aside / "previous")
        shutil.rmtree(aside, ignore_errors=True)
    resolved.mkdir(parents=True, exist_ok=True)
    if not is_ours(resolved):
        write_summary(resolved, {"kind": kind, "status": "running"})
    return resolved


def file_digest(path: Path) -> str:
    """sha256 of a file's bytes, as hex."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
