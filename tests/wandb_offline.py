"""Read back an offline W&B run file (run-*.wandb) for tests: a LevelDB-style log of protobuf Records.

wandb ≥ 0.19 writes offline runs from its Go core and no longer ships a Python reader (``wandb sync`` uploads them,
``--view`` and ``wandb.sdk.internal.datastore`` are gone), so the tests carry this small one over wandb's own protobuf
definitions (format: 7-byte header, then 32 KiB blocks of records with a 7-byte header: crc32c, length, type). The
writer runs in its own process and flushes at the end of the run: read a run only once the stage process that made
it has exited (then the log ends with an exit record, which :func:`read_run` checks).
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

BLOCK = 32 * 1024
FULL, FIRST, MIDDLE, LAST = 1, 2, 3, 4


def records(path: Path) -> list[bytes]:
    data = Path(path).read_bytes()
    assert data[:4] == b":W&B", "not a W&B run file"
    out, pending, pos = [], b"", 7
    while pos + 7 <= len(data):
        room = BLOCK - pos % BLOCK
        if room < 7:  # block trailer padding
            pos += room
            continue
        _, length, kind = struct.unpack("<IHB", data[pos : pos + 7])
        chunk = data[pos + 7 : pos + 7 + length]
        pos += 7 + length
        if kind == FULL:
            out.append(chunk)
        elif kind == FIRST:
            pending = chunk
        elif kind == MIDDLE:
            pending += chunk
        elif kind == LAST:
            out.append(pending + chunk)
    return out


def read_run(run_dir: Path) -> dict:
    """What an offline run folder holds, read after its writer finished (the log ends with the run's exit record):
    {"group", "job_type", "name", "tags", "config", "summary", "history_keys", "step_metrics": {glob: x-axis},
    "tables": {key: rows}}."""
    from wandb.proto import wandb_internal_pb2

    (path,) = Path(run_dir).glob("run-*.wandb")
    result: dict = {"config": {}, "summary": {}, "history_keys": set(), "step_metrics": {}, "tables": {}}
    finished = False
    for raw in records(path):
        record = wandb_internal_pb2.Record()
        record.ParseFromString(raw)
        kind = record.WhichOneof("record_type")
        if kind == "run":
            run = record.run
            result.update(group=run.run_group, job_type=run.job_type, name=run.display_name, tags=list(run.tags))
            result["config"].update({u.key: json.loads(u.value_json) for u in run.config.update})
        elif kind == "config":
            result["config"].update({u.key: json.loads(u.value_json) for u in record.config.update})
        elif kind == "summary":
            for u in record.summary.update:
                result["summary"][u.key or "/".join(u.nested_key)] = json.loads(u.value_json)
        elif kind == "history":
            result["history_keys"].update(item.key or "/".join(item.nested_key) for item in record.history.item)
        elif kind == "metric" and record.metric.step_metric:
            result["step_metrics"][record.metric.glob_name or record.metric.name] = record.metric.step_metric
        elif kind == "exit":
            finished = True
    assert finished, f"{path}: no exit record; read a run only after its process (and W&B writer) finished"
    summary = result["summary"]
    for key in [k[: -len("/_type")] for k, v in summary.items() if k.endswith("/_type") and v == "table-file"]:
        table = json.loads((Path(run_dir) / "files" / summary[f"{key}/path"]).read_text())
        result["tables"][key] = [dict(zip(table["columns"], row, strict=True)) for row in table["data"]]
    return result
