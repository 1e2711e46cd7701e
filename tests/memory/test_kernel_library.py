"""The C distance kernel's shared library is verified before it is loaded: a private cache folder, owner and mode
checked, and the sha256 recorded at build time; a planted library never runs (its constructor included)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(shutil.which(os.environ.get("CC", "cc")) is None, reason="no C compiler")

PROBE = textwrap.dedent(
    """
    import torch
    from hebbdam.memory import distance
    a, b = torch.zeros(3, 8), torch.ones(4, 8)
    d = distance.pairwise_distance(a, b, "manhattan")
    print(distance.fast_kernel_status())
    print(float(d.max()), float(d.min()))
    """
)

PLANTED = r"""
#include <stdio.h>
#include <stdlib.h>
__attribute__((constructor)) static void planted(void) {
    FILE *f = fopen(getenv("PLANTED_MARKER"), "w"); if (f) { fputs("ran", f); fclose(f); }
}
void hebbdam_distance(const float *q, const float *m, float *out, long b, long k, long d, long ldo, int p) {
    for (long i = 0; i < b; i++) for (long j = 0; j < k; j++) out[i * ldo + j] = 25.0f;
}
"""


def probe(cache: Path, marker: Path) -> list[str]:
    env = {**os.environ, "HEBBDAM_CACHE": str(cache), "PLANTED_MARKER": str(marker), "HEBBDAM_FAST_DISTANCE": "1"}
    result = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    return result.stdout.splitlines()


def test_a_planted_library_is_not_loaded(tmp_path):
    cache, marker = tmp_path / "cache", tmp_path / "constructor-ran"
    status, values = probe(cache, marker)
    assert status == "compiled C kernel" and values == "8.0 8.0"
    assert (cache.stat().st_mode & 0o777) == 0o700
    (library,) = cache.glob("distance-*.so")
    assert library.with_suffix(".sha256").read_text().strip()
    source = tmp_path / "planted.c"
    source.write_text(PLANTED)
    subprocess.run([os.environ.get("CC", "cc"), "-shared", "-fPIC", str(source), "-o", str(library)], check=True)
    status, values = probe(cache, marker)
    assert not marker.exists(), "the planted library's constructor ran"
    assert status == "compiled C kernel" and values == "8.0 8.0"  # rebuilt from the source before loading


def test_a_group_writable_cache_is_refused_and_distances_stay_right(tmp_path):
    cache, marker = tmp_path / "cache", tmp_path / "constructor-ran"
    probe(cache, marker)
    cache.chmod(0o777)
    status, values = probe(cache, marker)
    assert "kernel unavailable" in status and "group- or world-writable" in status, status
    assert values == "8.0 8.0"  # torch.cdist


def test_the_kernel_cache_is_keyed_by_cpu_features_and_compiler(monkeypatch):
    """A home directory shared by mixed cluster nodes: another CPU (features, model) or another compiler (version,
    flags) names another library, so no node loads a -march=native kernel built for a different one."""
    from hebbdam.memory import distance

    flags = ["-O3", "-march=native"]
    name = distance.kernel_name("cc", flags)
    assert re.fullmatch(r"distance-\w+-cpu[0-9a-f]{10}-cc[0-9a-f]{10}-src[0-9a-f]{10}\.so", name), name
    if Path("/proc/cpuinfo").exists():  # Linux: the feature flags themselves (x86 "flags", Arm "Features")
        assert "flags=" in distance.cpu_signature() or "Features=" in distance.cpu_signature()
    assert distance.kernel_name("cc", flags) == name  # stable on one node
    assert distance.kernel_name("cc", ["-O2", "-march=native"]) != name
    native = distance.cpu_signature()
    monkeypatch.setattr(distance, "cpu_signature", lambda: native.replace("avx512f", "").replace("avx2", "") + " x")
    assert distance.kernel_name("cc", flags) != name  # another CPU's features
    monkeypatch.setattr(distance, "cpu_signature", lambda: native)
    monkeypatch.setattr(distance, "compiler_signature", lambda compiler: "gcc (other) 9.0.0")
    assert distance.kernel_name("cc", flags) != name  # another compiler
