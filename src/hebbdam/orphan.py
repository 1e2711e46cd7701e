"""A stage that outlives its parent writes nothing.

DVC (or ``hebbdam run-pipeline``) starts each stage as a child process. When that parent dies (a CI cancel, a
``kill``, the OOM killer choosing dvc) nobody records the stage's outputs in dvc.lock, so a stage that ran on and
renamed its files over the committed ones would leave the checkout modified. Two guards:

- :func:`arm` (called once by ``hebbdam``'s entry point) asks Linux to send SIGTERM to this process when its parent
  dies (``prctl(PR_SET_PDEATHSIG)``); SIGTERM unwinds like Ctrl-C, so the stage stops and renames nothing;
- :func:`refuse_if_orphaned` (called by :mod:`hebbdam.io` just before every final rename) checks that the parent
  recorded at start is still the parent, for systems without the signal and for the race between fork and prctl.
  When the parent is a shell that did not ``exec`` the command (DVC runs ``$SHELL -c "<cmd>"``), the shell's own
  parent (DVC) is recorded and checked too.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
from pathlib import Path

PR_SET_PDEATHSIG = 1
SHELLS = ("sh", "bash", "dash", "zsh", "ksh", "fish")
_parent: int | None = None  # the parent pid recorded by arm(); None: not armed (library use, tests)
_grandparent: int | None = None  # the shell's parent when the parent is a shell


def _proc_stat(pid: int) -> tuple[str, int] | None:
    """(command name, parent pid) of ``pid`` from /proc (None where there is no /proc or no such process)."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    name, rest = text[text.index("(") + 1 : text.rindex(")")], text[text.rindex(")") + 2 :].split()
    return name, int(rest[1])


def arm() -> None:
    """Record the parent pid and request SIGTERM on its death (Linux only; elsewhere only the rename check)."""
    global _parent, _grandparent
    _parent = os.getppid()
    if _parent == 1:  # already adopted by init (started detached, or the parent died before this line)
        _parent = None
        return
    stat = _proc_stat(_parent)
    _grandparent = stat[1] if stat is not None and stat[0] in SHELLS and stat[1] > 1 else None
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
        except (OSError, AttributeError):  # no prctl: the rename check still holds
            pass
    if os.getppid() != _parent:  # the parent died between getppid() and prctl()
        os.kill(os.getpid(), signal.SIGTERM)


def orphaned() -> bool:
    """True when the process was armed and its parent has since died (it was re-parented)."""
    if _parent is None:
        return False
    if os.getppid() != _parent:
        return True
    stat = _proc_stat(_parent) if _grandparent is not None else None
    return stat is not None and stat[1] != _grandparent


def refuse_if_orphaned() -> None:
    """Raise KeyboardInterrupt (the interrupted path: nothing renamed, temporary files removed) when orphaned."""
    if orphaned():
        print(f"hebbdam: parent process {_parent} died; this stage writes nothing", file=sys.stderr)
        raise KeyboardInterrupt
