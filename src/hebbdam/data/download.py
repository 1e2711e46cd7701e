"""A small, strict downloader: urllib with a timeout, streamed to a hidden ``.part`` file, md5-checked, renamed.

Why not torchvision's downloader: it retries hosts we cannot control and can hang; here every fault ends in one
:class:`~hebbdam.errors.HebbdamError` line, and a file under its final name is always a verified one.

Mirrors (for firewalled users or a local copy), first match wins, and a user mirror replaces torchvision's hosts:

1. ``HEBBDAM_MIRROR_<NAME>`` (e.g. ``HEBBDAM_MIRROR_MNIST``): a folder URL (or local path) holding the files;
2. ``HEBBDAM_MIRROR``: a folder holding one subfolder per source (``<mirror>/mnist/…``, the layout of data/raw);
3. params ``data.mirrors.<name>`` (as 1) and ``data.mirror`` (as 2);
4. torchvision's own URLs.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path

from ..errors import HebbdamError
from ..io import md5sum
from ..logs import say
from .sources import RemoteSource, remote_source

ENV_ALL = "HEBBDAM_MIRROR"
CHUNK = 1 << 20


class ChecksumError(HebbdamError):
    """A file whose md5 is not the expected one; the file has been removed."""


class _Transfer(Exception):
    """One failed attempt at one URL (network, HTTP status, truncation); caught and turned into a HebbdamError."""


def env_name(name: str) -> str:
    return f"{ENV_ALL}_{name.upper()}"


def _as_url(location: str) -> str:
    """A URL or a local folder path → a base URL ending in '/'."""
    if "://" not in location:
        location = Path(location).expanduser().resolve().as_uri()
    return location if location.endswith("/") else location + "/"


def mirror_bases(
    name: str,
    defaults: tuple[str, ...],
    mirror: str | None = None,
    mirrors: Mapping[str, str] | None = None,
    environ: Mapping[str, str] | None = None,
) -> tuple[list[str], bool]:
    """Base URLs to try for source ``name``, and whether they come from the user (True) or torchvision (False)."""
    environ = os.environ if environ is None else environ
    mirrors = mirrors or {}
    if environ.get(env_name(name)):
        return [_as_url(environ[env_name(name)])], True
    if environ.get(ENV_ALL):
        return [_as_url(environ[ENV_ALL]) + f"{name}/"], True
    if mirrors.get(name):
        return [_as_url(mirrors[name])], True
    if mirror:
        return [_as_url(mirror) + f"{name}/"], True
    return list(defaults), False


def _reason(err: BaseException, timeout: float) -> str:
    if isinstance(err, urllib.error.HTTPError):
        return f"HTTP {err.code} {err.reason}"
    if isinstance(err, urllib.error.URLError):
        reason = err.reason
        if isinstance(reason, TimeoutError):
            return f"no answer within {timeout:g} s"
        return str(getattr(reason, "strerror", None) or reason)
    if isinstance(err, TimeoutError):
        return f"no data for {timeout:g} s"
    if isinstance(err, _Transfer):
        return str(err)
    return f"{type(err).__name__}: {err}".rstrip(": ")


def fetch(url: str, dest: Path, timeout: float) -> str:
    """Stream ``url`` into ``dest``'s hidden ``.part`` file and return its md5; raise _Transfer on any fault.

    The ``.part`` file is removed on any failure (including Ctrl-C); it is never renamed here.
    """
    part = dest.with_name(f".{dest.name}.part")
    request = urllib.request.Request(url, headers={"User-Agent": "hebbdam (python urllib)"})
    digest = hashlib.md5(usedforsecurity=False)
    size = 0
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response, open(part, "wb") as out:
            expected = response.headers.get("Content-Length")
            while chunk := response.read(CHUNK):
                out.write(chunk)
                digest.update(chunk)
                size += len(chunk)
        if expected is not None and size != int(expected):
            raise _Transfer(f"connection closed after {size} of {int(expected)} bytes")
    except (OSError, http.client.HTTPException, ValueError, _Transfer) as err:
        part.unlink(missing_ok=True)
        raise _Transfer(_reason(err, timeout)) from err
    except BaseException:
        part.unlink(missing_ok=True)
        raise
    return digest.hexdigest()


def _mirror_hint(name: str, filename: str) -> str:
    return (
        f"set a mirror: {env_name(name)}=<URL or folder holding {filename}>, "
        f"or {ENV_ALL} / params data.mirror=<URL or folder holding {name}/{filename}>"
    )


def download(
    name: str,
    root: str | Path = "data",
    mirror: str | None = None,
    mirrors: Mapping[str, str] | None = None,
    checksums: Mapping[str, str] | None = None,
    timeout: float = 60.0,
    environ: Mapping[str, str] | None = None,
    table: RemoteSource | None = None,
) -> dict[str, str]:
    """Make ``<root>/raw/<name>/`` hold every file of source ``name`` with its expected md5; return {file: md5}.

    ``checksums`` (filename → md5) replaces torchvision's table (tests serve their own files); a file already
    present with the right md5 is not downloaded again. A present or downloaded file with the wrong md5 is removed
    and raises :class:`ChecksumError` naming it; the next run downloads it again.
    """
    table = table or remote_source(name)
    files = dict(checksums) if checksums is not None else dict(table.files)
    bases, from_user = mirror_bases(name, table.mirrors, mirror, mirrors, environ)
    folder = Path(root) / "raw" / name
    folder.mkdir(parents=True, exist_ok=True)
    for filename, expected in files.items():
        dest = folder / filename
        if dest.is_file():
            _verify(dest, md5sum(dest), expected, "found on disk")
            continue
        failures: list[str] = []
        for base in bases:
            url = base + filename
            say(f"{name}: downloading {url}")
            try:
                got = fetch(url, dest, timeout)
            except _Transfer as err:
                failures.append(f"{url} ({err})")
                continue
            part = dest.with_name(f".{dest.name}.part")
            _verify(part, got, expected, f"downloaded from {url}", shown=dest)
            os.replace(part, dest)
            break
        else:
            tried = failures[0] + (f"; also tried {', '.join(failures[1:])}" if failures[1:] else "")
            origin = "your mirror" if from_user else "torchvision's URLs"
            raise HebbdamError(
                f"{name}: cannot download {filename} from {origin}: {tried}; {_mirror_hint(name, filename)}"
            )
    return files


def _verify(path: Path, got: str, expected: str, how: str, shown: Path | None = None) -> None:
    if got == expected:
        return
    path.unlink(missing_ok=True)
    raise ChecksumError(
        f"{shown or path}: checksum mismatch ({how}: md5 {got}, expected {expected}); "
        "the file was removed, run again to download it"
    )
