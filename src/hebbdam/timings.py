"""Each stage's own wall and CPU time, and the README's stage-time paragraph written from them.

``hebbdam <stage>`` (every command of dvc.yaml) prints one line ``<stage>: wall … s, CPU … s`` when it ends and records
it in ``.timings/<stage>.json`` (``<stage>_<item>.json`` for foreach stages): a git-ignored folder beside params.yaml,
never a DVC output, so the committed results stay byte-identical on a rerun. CPU time is user + system time of the
stage process and the processes it waited for (``resource.getrusage``). ``hebbdam stage-times`` writes the
paragraph between README's ``<!-- stage-times -->`` markers from the recorded files.
"""

from __future__ import annotations

import json
import os
import platform
import resource
import sys
import time
from pathlib import Path

from . import io
from .errors import HebbdamError

TIMINGS_DIR = Path(".timings")
START, END = "<!-- stage-times -->", "<!-- /stage-times -->"


def cpu_seconds() -> float:
    """User + system seconds of this process and its waited-for children."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def cpu_name() -> str:
    """The CPU's model name (Linux /proc/cpuinfo), else the platform's processor string."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


class StageClock:
    """Started when a stage starts; :meth:`stop` prints and records its wall and CPU seconds."""

    def __init__(self, stage: str, folder: Path = TIMINGS_DIR):
        self.stage, self.folder = stage, folder
        self.wall, self.cpu = time.perf_counter(), cpu_seconds()
        self.load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None

    def stop(self) -> dict:
        parallel = sys.modules.get("hebbdam.parallel")
        if parallel is not None:  # join the stage's fit workers first: a child's CPU counts once it is reaped
            parallel.close_pools()
        record = {
            "stage": self.stage,
            "wall_s": round(time.perf_counter() - self.wall, 1),
            "cpu_s": round(cpu_seconds() - self.cpu, 1),
            "load_at_start": None if self.load is None else round(self.load, 2),
            "cpu": cpu_name(),
            "cores": os.cpu_count(),
            "finished": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        }
        print(f"{self.stage}: wall {record['wall_s']:.1f} s, CPU {record['cpu_s']:.1f} s", flush=True)
        try:
            io.write_text(self.folder / f"{self.stage}.json", json.dumps(record, indent=1) + "\n")
        except OSError as err:  # a read-only checkout still runs its stages
            print(f"{self.stage}: timing not recorded ({err})", flush=True)
        return record


def load_records(folder: Path = TIMINGS_DIR) -> list[dict]:
    """Every recorded stage time, sorted by stage name."""
    return [json.loads(path.read_text()) for path in sorted(folder.glob("*.json"))]


def paragraph(records: list[dict]) -> str:
    """The README's stage-time paragraph: each stage's wall and CPU seconds, the machine and loads, the totals."""
    if not records:
        raise HebbdamError(f"stage-times: no timings in {TIMINGS_DIR}/ (run the stages first: hebbdam run-pipeline)")
    cpus = sorted({r["cpu"] for r in records})
    loads = [r["load_at_start"] for r in records if r.get("load_at_start") is not None]
    stages = "; ".join(f"{r['stage']} {r['wall_s']:.0f} / {r['cpu_s']:.0f}" for r in records)
    wall, cpu = sum(r["wall_s"] for r in records), sum(r["cpu_s"] for r in records)
    load = f", load {min(loads):.1f}–{max(loads):.1f} at their starts" if loads else ""
    return (
        f"Time, as each stage measured itself (`.timings/`, written by `hebbdam stage-times`) on {', '.join(cpus)} "
        f"({records[0]['cores']} cores{load}), wall / CPU seconds: {stages}. In all {wall:.0f} s wall "
        f"({wall / 60:.0f} min), {cpu:.0f} s of CPU; last stage finished {max(r['finished'] for r in records)}."
    )


def replace_paragraph(text: str, new: str) -> str:
    """``text`` with what lies between the stage-time markers replaced by ``new``."""
    if START not in text or END not in text:
        raise HebbdamError(f"stage-times: README.md has no {START} … {END} markers")
    head, rest = text.split(START, 1)
    return f"{head}{START}\n{new}\n{END}{rest.split(END, 1)[1]}"


def main(args) -> None:
    readme = Path(getattr(args, "out", None) or "README.md")
    text = paragraph(load_records())
    io.write_text(readme, replace_paragraph(readme.read_text(), text))
    print(text)
