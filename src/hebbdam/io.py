"""Atomic file output: a stage either writes a complete file or leaves the old one untouched."""

from __future__ import annotations

import fnmatch
import hashlib
import json
import math
import os
import signal
import tempfile
from collections.abc import Callable, Iterable
from contextlib import contextmanager
from pathlib import Path

HASH_CHUNK = 1 << 20  # bytes read at a time when hashing a file


def md5sum(path: str | Path) -> str:
    """The MD5 hex digest of a file (the checksums the data sources publish), read in 1 MiB chunks."""
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as stream:
        while chunk := stream.read(HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def atomic_write(path: str | Path, write: Callable[[Path], object]) -> Path:
    """Call ``write(tmp_path)`` on a temporary file beside ``path``, then rename it over ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp" + path.suffix, dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        with naming(path):
            write(tmp)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; outputs get the usual permissions
        from .orphan import refuse_if_orphaned

        refuse_if_orphaned()
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


@contextmanager
def naming(path: Path):
    """An OSError without a file name (a full disk fails in write(), not open()) names ``path``."""
    try:
        yield
    except OSError as err:
        if err.filename is None:
            raise OSError(err.errno, err.strerror or str(err), str(path)) from err
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_text(path: str | Path, text: str) -> Path:
    return atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def finite(obj: object, nullable: Iterable[str] = (), where: str = "", prefix: str = "") -> object:
    """``obj`` with every NaN/±inf refused: a record says "not measured" with null, never with NaN. A non-finite
    number at a dotted key matching one of the ``nullable`` patterns (fnmatch) becomes null instead.

    Raises HebbdamError naming ``where`` and the dotted key of the first non-finite number."""
    nullable = tuple(nullable)
    if isinstance(obj, dict):
        return {k: finite(v, nullable, where, f"{prefix}{k}.") for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [finite(v, nullable, where, f"{prefix}{i}.") for i, v in enumerate(obj)]
    if isinstance(obj, float) and not math.isfinite(obj):
        key = prefix[:-1]
        if any(fnmatch.fnmatchcase(key, pattern) for pattern in nullable):
            return None
        from .errors import HebbdamError

        raise HebbdamError(
            f"{where}: key '{key}' is {obj} (a record holds finite numbers; null, with its reason, means not "
            "measured); nothing was written"
        )
    return obj


def dumps(obj: object, where: str, nullable: Iterable[str] = ()) -> str:
    """Deterministic JSON (sorted keys, fixed indent, finite numbers only) so equal results give equal bytes."""
    return json.dumps(finite(obj, nullable, where), indent=2, sort_keys=True, allow_nan=False) + "\n"


def write_json(path: str | Path, obj: object, nullable: Iterable[str] = ()) -> Path:
    """Deterministic JSON (sorted keys, fixed indent) so equal results give equal bytes; NaN/inf refused (see
    :func:`finite`) before anything is written."""
    return write_text(path, dumps(obj, str(path), nullable))


def read_json(path: str | Path) -> object:
    from .errors import HebbdamError

    path = Path(path)
    if not path.is_file():
        raise HebbdamError(f"{path}: file not found (run the stage that writes it first: dvc repro)")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise HebbdamError(f"{path}: not valid JSON ({err.msg} at line {err.lineno})") from err


def read_json_object(path: str | Path) -> dict:
    """:func:`read_json` for a file that must hold one JSON object {…} (a record): HebbdamError naming it if not."""
    from .errors import HebbdamError

    content = read_json(path)
    if not isinstance(content, dict):
        raise HebbdamError(f"{path}: expected a JSON object {{…}}, got a {type(content).__name__}")
    return content


def write_json_files(folder: str | Path, files: dict[str, object]) -> list[Path]:
    """Write several JSON files as one step: every file goes to a temporary name first, then all are renamed with
    Ctrl-C and SIGTERM held back, so an interrupted stage leaves either all new files or all old ones. NaN/inf are
    refused before any file is staged, and a stage whose parent (DVC) has died renames nothing (:mod:`orphan`)."""
    from .orphan import refuse_if_orphaned

    folder = Path(folder)
    texts = {name: dumps(content, str(folder / name)) for name, content in files.items()}
    folder.mkdir(parents=True, exist_ok=True)
    staged: list[tuple[Path, Path]] = []
    try:
        for name, text in texts.items():
            target = folder / name  # a name may hold a subfolder (headline/<stage>.json)
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp.json", dir=target.parent)
            os.close(fd)
            tmp = Path(tmp_name)
            staged.append((tmp, target))
            with naming(target):
                tmp.write_text(text, encoding="utf-8")
            os.chmod(tmp, 0o666 & ~_umask())
        held = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
        try:
            refuse_if_orphaned()
            for tmp, path in staged:
                os.replace(tmp, path)
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, held)
    finally:
        for tmp, _ in staged:
            tmp.unlink(missing_ok=True)
    return [path for _, path in staged]


def flatten(node: object, prefix: str = "") -> dict[str, float | None | str]:
    """Numeric, null and string leaves of a record's nested dicts as {"a.b.c": value}; lists and booleans are
    skipped (the keys the gate compares and a stage's headline selects)."""
    if isinstance(node, dict):
        leaves: dict[str, float | None | str] = {}
        for key, value in node.items():
            leaves.update(flatten(value, f"{prefix}{key}."))
        return leaves
    if node is None or isinstance(node, str):
        return {prefix[:-1]: node}
    if isinstance(node, int | float) and not isinstance(node, bool):
        return {prefix[:-1]: float(node)}
    return {}
