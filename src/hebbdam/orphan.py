"""A stage that outlives its parent writes nothing.

DVC (or ``hebbdam run-pipeline``) starts each stage as a child process. When that parent dies (a CI cancel, a
``kill``, the OOM killer choosing dvc) nobody records the stage's outputs in dvc.lock, so a stage that ran on and
renamed its files over the committed ones would leave the checkout modified. Two guards:

- :func:`arm` (called once by ``hebbdam``'s entry point) asks Linux to send SIGTERM to this process when its parent
  dies (``prctl(PR_SET_PDEATHSIG)``); SIGTERM unwinds like Ctrl-C, so the stage stops and renames nothing;
- :func:`refuse_if_orphaned` (called by :mod:`hebbdam.io` just before every final rename) checks that the parent
  recorded at start is still the parent, for systems without the signal and for the race between fork and prctl.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys

PR_SET_PDEATHSIG = 1
_parent: int | None = None  # the parent pid recorded by arm(); None: not armed (library use, tests)


def arm() -> None:
    """Record the parent pid and request SIGTERM on its death (Linux only; elsewhere only the rename check)."""
    global _parent
    _parent = os.getppid()
    if _parent == 1:  # already adopted by init (started detached, or the parent died before this line)
        _parent = None
        return
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
    return _parent is not None and os.getppid() != _parent


def refuse_if_orphaned() -> None:
    """Raise KeyboardInterrupt (the interrupted path: nothing renamed, temporary files removed) when orphaned."""
    if orphaned():
        print(f"hebbdam: parent process {_parent} died; this stage writes nothing", file=sys.stderr)
        raise KeyboardInterrupt
