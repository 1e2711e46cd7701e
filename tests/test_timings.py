"""Stage times: each stage records its own wall and CPU seconds outside DVC's outputs; the README paragraph is
written from the records."""

from __future__ import annotations

import argparse
import json
import time

import pytest

from hebbdam import cli, timings
from hebbdam.errors import HebbdamError


def test_a_stage_clock_records_wall_and_cpu_time(tmp_path, capsys):
    from hebbdam import parallel

    parallel.close_pools()  # workers another test left alive would count on this clock when it joins them
    clock = timings.StageClock("ladder_dense", tmp_path)
    end = time.process_time() + 0.3
    while time.process_time() < end:  # burn CPU: the record must see it
        pass
    time.sleep(0.2)  # and wait: wall time grows beyond CPU time
    record = clock.stop()
    saved = json.loads((tmp_path / "ladder_dense.json").read_text())
    assert saved == record
    assert record["cpu_s"] >= 0.2 and record["wall_s"] >= record["cpu_s"] + 0.1
    assert "ladder_dense: wall" in capsys.readouterr().out


def test_only_dvc_runs_of_a_stage_are_timed():
    def args(command, words=(), out=None, params="params.yaml"):
        return argparse.Namespace(command=command, words=list(words), out=out, params=params)

    assert cli._stage_clock(args("ladder", ["dense"])).stage == "ladder_dense"
    assert cli._stage_clock(args("capacity")).stage == "capacity"
    assert cli._stage_clock(args("capacity", out="/tmp/x")) is None  # scratch outputs: not the stage's time
    assert cli._stage_clock(args("capacity", params="/tmp/p.yaml")) is None
    assert cli._stage_clock(args("gate")) is None  # not a stage


def test_the_readme_paragraph_is_written_from_the_records():
    records = [
        {"stage": "capacity", "wall_s": 81.0, "cpu_s": 75.2, "load_at_start": 2.0, "cpu": "X", "cores": 2,
         "finished": "2026-12-06 15:00 UTC"},
        {"stage": "ladder_dense", "wall_s": 60.4, "cpu_s": 58.0, "load_at_start": 3.5, "cpu": "X", "cores": 2,
         "finished": "2026-12-06 15:02 UTC"},
    ]  # fmt: skip
    text = timings.paragraph(records)
    assert "capacity 81 / 75; ladder_dense 60 / 58" in text and "In all 141 s wall" in text and "133 s of CPU" in text
    assert "load 2.0–3.5" in text
    readme = f"intro\n{timings.START}\nold numbers\n{timings.END}\nrest\n"
    new = timings.replace_paragraph(readme, text)
    assert new == f"intro\n{timings.START}\n{text}\n{timings.END}\nrest\n"
    assert timings.replace_paragraph(new, text) == new  # idempotent
    with pytest.raises(HebbdamError, match="markers"):
        timings.replace_paragraph("no markers here", text)
    with pytest.raises(HebbdamError, match="no timings"):
        timings.paragraph([])
