"""Checksummed downloads: stream to a temp file in the cache, verify sha256, ``os.replace``.

A file that fails its checksum is deleted and never cached. Mirrors are tried in order; when
all fail the error lists each attempt and what to do.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import http.client
import os
import tempfile
import urllib.error
import urllib.request
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from netmedic.errors import BadInputError

#: Seconds to wait on a silent connection before trying the next mirror.
TIMEOUT_S = 30.0
_CHUNK = 1 << 20


class DownloadError(BadInputError):
    """No mirror delivered a file that passed its checksum."""


@dataclass(frozen=True)
class RemoteFile:
    """One file to fetch: its role, name on the mirrors and known digests.

    ``sha256`` is of the file as served; ``raw_sha256`` (optional) of its gunzipped content,
    accepted too so a mirror that recompresses the same data still verifies.
    """

    role: str
    filename: str
    sha256: str
    raw_sha256: str | None = None


def fetch(
    remote: RemoteFile,
    mirrors: Sequence[str],
    dest_dir: Path,
    *,
    dataset: str,
    progress: bool = True,
) -> Path:
    """Download ``remote`` from the first mirror that delivers it intact into ``dest_dir``.

    Returns the final path ``dest_dir / remote.filename``. Raises :class:`DownloadError` when
    every mirror failed (network error or checksum mismatch); nothing is left in ``dest_dir``.
    """
    dest_dir.mkdir(parents=True, exist_ok=True)
    dest = dest_dir / remote.filename
    failures = []
    for base in mirrors:
        url = base + remote.filename
        try:
            _stream_verified(url, remote, dest, progress=progress)
            return dest
        except _ChecksumMismatch as err:
            failures.append(f"{url}: {err} (deleted, not cached)")
        except (OSError, ValueError, http.client.HTTPException) as err:  # URLError is an OSError
            failures.append(f"{url}: {_describe(err)}")
    raise DownloadError(
        f"{dataset}: could not download {remote.filename}. Tried: " + "; ".join(failures) + ". "
        "Check your connection and try again, point NETMEDIC_MIRROR at another mirror, or "
        "download the files yourself and pass --data-dir DIR (or use the offline 'mnist-mini')."
    )


class _ChecksumMismatch(Exception):
    pass


def _describe(err: Exception) -> str:
    if isinstance(err, urllib.error.HTTPError):
        return f"HTTP {err.code} {err.reason}"
    return str(getattr(err, "reason", None) or err)


def _stream_verified(url: str, remote: RemoteFile, dest: Path, *, progress: bool) -> None:
    request = urllib.request.Request(url, headers={"User-Agent": "netmedic"})
    fd, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
    tmp = Path(tmp_name)
    try:
        digest = hashlib.sha256()
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(request, timeout=TIMEOUT_S) as r:
            total = int(r.headers.get("Content-Length") or 0) or None
            with _progress_bar(remote.filename, total, enabled=progress) as advance:
                while chunk := r.read(_CHUNK):
                    out.write(chunk)
                    digest.update(chunk)
                    advance(len(chunk))
        found = digest.hexdigest()
        if found != remote.sha256 and not _raw_matches(tmp, remote.raw_sha256):
            raise _ChecksumMismatch(
                f"sha256 {found[:16]}… does not match the expected {remote.sha256[:16]}…"
            )
        os.replace(tmp, dest)  # atomic: the cache never holds a half-written file
    finally:
        tmp.unlink(missing_ok=True)


def _raw_matches(path: Path, raw_sha256: str | None) -> bool:
    """True when the gunzipped content of ``path`` has sha256 ``raw_sha256``."""
    if raw_sha256 is None:
        return False
    digest = hashlib.sha256()
    try:
        with gzip.open(path, "rb") as f:
            while chunk := f.read(_CHUNK):
                digest.update(chunk)
    except (OSError, EOFError, zlib.error):
        return False
    return digest.hexdigest() == raw_sha256


@contextlib.contextmanager
def _progress_bar(label: str, total: int | None, *, enabled: bool) -> Iterator:
    if not enabled:
        yield lambda n: None
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    columns = (TextColumn("{task.description}"), BarColumn(), DownloadColumn(),
               TransferSpeedColumn(), TimeRemainingColumn())
    with Progress(*columns, console=Console(stderr=True)) as bar:
        task = bar.add_task(f"downloading {label}", total=total)
        yield lambda n: bar.advance(task, n)
