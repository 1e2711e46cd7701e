"""Read back an offline W&B run file (run-*.wandb) for tests: a LevelDB-style log of protobuf Records.

wandb ≥ 0.19 writes offline runs from its Go core and no longer ships a Python reader, so the tests carry this small
one (format: 7-byte header, then 32 KiB blocks of records with a 7-byte header: crc32c, length, type).
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
    """{"group", "job_type", "config": {key: value}, "summary": {key: value}} of one offline run folder."""
    from wandb.proto import wandb_internal_pb2

    (path,) = Path(run_dir).glob("run-*.wandb")
    result: dict = {"config": {}, "summary": {}}
    for raw in records(path):
        record = wandb_internal_pb2.Record()
        record.ParseFromString(raw)
        kind = record.WhichOneof("record_type")
        if kind == "run":
            result["group"], result["job_type"] = record.run.run_group, record.run.job_type
            result["config"].update({u.key: json.loads(u.value_json) for u in record.run.config.update})
        elif kind == "config":
            result["config"].update({u.key: json.loads(u.value_json) for u in record.config.update})
        elif kind == "summary":
            for u in record.summary.update:
                key = u.key or "/".join(u.nested_key)
                result["summary"][key] = json.loads(u.value_json)
    return result
