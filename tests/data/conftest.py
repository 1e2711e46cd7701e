"""Test-made raw files in the real formats and a bounded HTTP server on 127.0.0.1 that serves them as a mirror."""

from __future__ import annotations

import gzip
import hashlib
import io
import pickle
import tarfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace

import numpy as np
import pytest

SERVER_LIFETIME_S = 60.0  # the server shuts itself down after this, whatever the test does


def idx_bytes(array: np.ndarray) -> bytes:
    """An unsigned-byte IDX file (magic 0x0000 08 ndim, big-endian sizes), gzip-compressed with a fixed mtime."""
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(s).to_bytes(4, "big") for s in array.shape)
    return gzip.compress(header + array.astype(np.uint8).tobytes(), mtime=0)


def fake_mnist(n_train: int = 30, n_test: int = 10, seed: int = 1) -> dict[str, bytes]:
    """The four MNIST files with random 28×28 images; labels cycle 0…9."""
    rng = np.random.default_rng(seed)
    return {
        "train-images-idx3-ubyte.gz": idx_bytes(rng.integers(0, 256, (n_train, 28, 28))),
        "train-labels-idx1-ubyte.gz": idx_bytes(np.arange(n_train) % 10),
        "t10k-images-idx3-ubyte.gz": idx_bytes(rng.integers(0, 256, (n_test, 28, 28))),
        "t10k-labels-idx1-ubyte.gz": idx_bytes(np.arange(n_test) % 10),
    }


def fake_cifar(per_batch: int = 4, seed: int = 2) -> dict[str, bytes]:
    """``cifar-10-python.tar.gz`` holding six pickled batches (dict data (n, 3072) uint8, labels list) and meta."""
    rng = np.random.default_rng(seed)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
        members = {
            name: {"data": rng.integers(0, 256, (per_batch, 3072)).astype(np.uint8), "labels": list(range(per_batch))}
            for name in names
        }
        members["batches.meta"] = {"label_names": [f"class{i}" for i in range(10)]}
        for name, obj in members.items():
            payload = pickle.dumps(obj, protocol=2)
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size, info.mtime = len(payload), 0
            tar.addfile(info, io.BytesIO(payload))
    return {"cifar-10-python.tar.gz": buffer.getvalue()}


def md5(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


@dataclass
class Mirror:
    """A served folder: ``files`` maps URL path → bytes; ``truncate`` and ``stall`` name paths that misbehave."""

    files: dict[str, bytes] = field(default_factory=dict)
    truncate: set[str] = field(default_factory=set)
    stall: set[str] = field(default_factory=set)
    hits: Counter = field(default_factory=Counter)
    url: str = ""
    release: threading.Event = field(default_factory=threading.Event)


def _handler(mirror: Mirror):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):  # keep test output clean
            pass

        def do_GET(self):
            mirror.hits[self.path] += 1
            if self.path not in mirror.files:
                self.send_error(404, "Not Found")
                return
            data = mirror.files[self.path]
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if self.path in mirror.stall:
                mirror.release.wait(5.0)
                return
            if self.path in mirror.truncate:
                self.wfile.write(data[: len(data) // 2])
                self.wfile.flush()
                self.close_connection = True
                return
            self.wfile.write(data)

    return Handler


@pytest.fixture
def mirror():
    """A Mirror served on 127.0.0.1 (ephemeral port) for the test's duration, at most SERVER_LIFETIME_S."""
    state = Mirror()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    server.daemon_threads = True
    server.timeout = 1.0
    state.url = f"http://127.0.0.1:{server.server_address[1]}/"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    watchdog = threading.Timer(SERVER_LIFETIME_S, server.shutdown)
    watchdog.daemon = True
    watchdog.start()
    started = time.monotonic()
    try:
        yield state
    finally:
        state.release.set()
        watchdog.cancel()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5.0)
        assert time.monotonic() - started < SERVER_LIFETIME_S


def serve(mirror: Mirror, name: str, files: dict[str, bytes]) -> dict[str, str]:
    """Put ``files`` under ``/<name>/`` of the mirror; return their checksum table (filename → md5)."""
    for filename, data in files.items():
        mirror.files[f"/{name}/{filename}"] = data
    return {filename: md5(data) for filename, data in files.items()}


@pytest.fixture
def fakes():
    """The helpers above, for tests (test modules import nothing from conftest)."""
    return SimpleNamespace(mnist=fake_mnist, cifar=fake_cifar, md5=md5, serve=serve, idx_bytes=idx_bytes)
