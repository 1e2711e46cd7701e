"""Pairwise distances between states and memories, fast on the CPU, exact everywhere.

Manhattan (L1) and exact Euclidean distances have no GEMM form, and ``torch.cdist(p=1)`` runs at a twentieth of the
GEMM rate on a CPU. On float32 CPU tensors the distances come from a small C kernel compiled once per CPU and compiler
with the system C compiler (``cc``; ``$CC`` overrides) and cached under ``~/.cache/hebbdam`` (``$HEBBDAM_CACHE``),
keyed by the CPU's features and the compiler (:func:`kernel_name`). Plain C through ctypes, not
``torch.utils.cpp_extension``: that needs a C++ toolchain, the torch headers and ninja, and minutes of build, where
this needs any ``cc`` and a second. A 3 × 3
tile of (query, memory) pairs is accumulated in SIMD registers along D, so each loaded vector is used three times,
and the memories are split over ``torch.get_num_threads()`` threads (ctypes releases the GIL). Each pair is summed
in the same order whatever the thread count, so results are repeatable bit for bit.

CUDA tensors take a Triton kernel (``memory.distance_triton``) where Triton is installed. Everything else (other
dtypes, tensors that need a gradient, no compiler, ``HEBBDAM_FAST_DISTANCE=0``) takes ``torch.cdist`` in chunks
of memories, the exact fallback the kernels are tested against. ``pairwise_distance`` never holds more than the
(B, K) result; recall with a separation streams over memories (``memory.universal``) so that is bounded too.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import platform
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import torch
from torch import Tensor

NORMS = {"manhattan": 1, "euclidean": 2}
FALLBACK_CHUNK = 4096  # memories per torch.cdist call on the fallback path

KERNEL_SOURCE = r"""
#include <stddef.h>
typedef float vf __attribute__((vector_size(32)));
typedef float vfu __attribute__((vector_size(32), aligned(4)));
typedef int vi __attribute__((vector_size(32)));
#define W 8
#define T 3

static inline vf load(const float *p) { return *(const vfu *)p; }
static inline vf term(vf a, vf b, int p) {
    vf d = a - b;
    if (p == 1) return (vf)((vi)d & (vi){0x7fffffff, 0x7fffffff, 0x7fffffff, 0x7fffffff,
                                          0x7fffffff, 0x7fffffff, 0x7fffffff, 0x7fffffff});
    return d * d;
}
static inline float hsum(vf v) {
    float s = 0.0f;
    for (int k = 0; k < W; k++) s += v[k];
    return s;
}
static inline float tail(const float *a, const float *b, long from, long d, int p) {
    float s = 0.0f;
    for (long k = from; k < d; k++) {
        float x = a[k] - b[k];
        s += p == 1 ? (x < 0 ? -x : x) : x * x;
    }
    return s;
}

/* out[i * ldo + j] = sum_k |q[i, k] - m[j, k]|^p for p = 1 (Manhattan) or p = 2 (squared Euclidean). */
void hebbdam_distance(const float *q, const float *m, float *out, long nq, long nm, long d, long ldo, int p) {
    const long dv = d - d % W;
    const long block = 48; /* memories per block: 48 rows of D floats stay in L2 while query tiles pass */
    for (long j0 = 0; j0 < nm; j0 += block) {
        long j1 = j0 + block < nm ? j0 + block : nm;
        for (long i = 0; i < nq; i += T) {
            long ti = nq - i < T ? nq - i : T;
            for (long j = j0; j < j1; j += T) {
                long tj = j1 - j < T ? j1 - j : T;
                if (ti == T && tj == T) {
                    vf acc[T][T] = {{0}};
                    const float *a0 = q + i * d, *a1 = a0 + d, *a2 = a1 + d;
                    const float *b0 = m + j * d, *b1 = b0 + d, *b2 = b1 + d;
                    for (long k = 0; k < dv; k += W) {
                        vf x0 = load(a0 + k), x1 = load(a1 + k), x2 = load(a2 + k);
                        vf y = load(b0 + k);
                        acc[0][0] += term(x0, y, p); acc[1][0] += term(x1, y, p); acc[2][0] += term(x2, y, p);
                        y = load(b1 + k);
                        acc[0][1] += term(x0, y, p); acc[1][1] += term(x1, y, p); acc[2][1] += term(x2, y, p);
                        y = load(b2 + k);
                        acc[0][2] += term(x0, y, p); acc[1][2] += term(x1, y, p); acc[2][2] += term(x2, y, p);
                    }
                    for (int r = 0; r < T; r++)
                        for (int c = 0; c < T; c++)
                            out[(i + r) * ldo + j + c] =
                                hsum(acc[r][c]) + tail(q + (i + r) * d, m + (j + c) * d, dv, d, p);
                } else {
                    for (long r = 0; r < ti; r++)
                        for (long c = 0; c < tj; c++) {
                            const float *a = q + (i + r) * d, *b = m + (j + c) * d;
                            vf acc = {0};
                            for (long k = 0; k < dv; k += W) acc += term(load(a + k), load(b + k), p);
                            out[(i + r) * ldo + j + c] = hsum(acc) + tail(a, b, dv, d, p);
                        }
                }
            }
        }
    }
}
"""

_kernel = None
_kernel_error: str | None = None


def _cache_dir() -> Path:
    root = os.environ.get("HEBBDAM_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "hebbdam"
    )
    return Path(root)


def _file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _check_private(path: Path, what: str) -> None:
    """``path`` must belong to this user and be writable by no one else (else OSError: the kernel is not loaded)."""
    info = path.stat()
    if hasattr(os, "getuid") and info.st_uid != os.getuid():
        raise OSError(f"{what} {path} belongs to uid {info.st_uid}, not to this user: not loaded")
    if info.st_mode & 0o022:
        raise OSError(f"{what} {path} is group- or world-writable (mode {info.st_mode & 0o777:o}): not loaded")


def _build(compiler: str, flags: list[str], library: Path) -> None:
    """Compile into a private scratch folder, record the file's sha256 beside it, then rename both into place."""
    with tempfile.TemporaryDirectory(dir=library.parent) as scratch:
        source = Path(scratch) / "distance.c"
        source.write_text(KERNEL_SOURCE)
        built = Path(scratch) / "distance.so"
        subprocess.run([compiler, *flags, str(source), "-o", str(built)], check=True, capture_output=True)
        os.chmod(built, 0o700)
        record = Path(scratch) / "distance.sha256"
        record.write_text(_file_sha256(built) + "\n")
        os.replace(record, library.with_suffix(".sha256"))
        os.replace(built, library)


def _short_hash(*parts: str) -> str:
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:10]


def cpu_signature() -> str:
    """What ``-march=native`` compiles for: the vendor, family, model and feature flags of this CPU (Linux
    /proc/cpuinfo, first processor), else the platform's own description of its processor."""
    try:
        block = Path("/proc/cpuinfo").read_text().split("\n\n")[0]
    except OSError:
        block = ""
    fields = dict(line.split(":", 1) for line in block.splitlines() if ":" in line)
    keys = ("vendor_id", "cpu family", "model", "flags", "Features", "CPU implementer", "CPU part")
    found = [f"{key}={fields[name].strip()}" for key in keys for name in fields if name.strip() == key]
    return "\n".join(found) or f"{platform.machine()} {platform.processor()} {platform.platform()}"


def compiler_signature(compiler: str) -> str:
    """The compiler's own ``--version`` and target triple (a changed or upgraded ``cc`` builds anew)."""
    result = [compiler]
    for option in ("--version", "-dumpmachine"):
        try:
            done = subprocess.run([compiler, option], capture_output=True, text=True, timeout=30, check=False)
            result.append(done.stdout.strip())
        except (OSError, subprocess.SubprocessError) as err:
            result.append(f"{type(err).__name__}")
    return "\n".join(result)


def kernel_name(compiler: str, flags: list[str]) -> str:
    """The cached library's file name: ``distance-<arch>-cpu<h>-cc<h>-src<h>.so``, keyed by this CPU's features,
    the compiler (and its flags) and the source, so a cache shared by mixed cluster nodes (one home directory) never
    loads a ``-march=native`` kernel built for another CPU (SIGILL) or by another compiler."""
    arch = "".join(c for c in platform.machine() if c.isalnum() or c == "_") or "cpu"
    cpu = _short_hash(cpu_signature())
    cc = _short_hash(compiler_signature(compiler), *flags)
    return f"distance-{arch}-cpu{cpu}-cc{cc}-src{_short_hash(KERNEL_SOURCE)}.so"


def _compile() -> ctypes.CDLL:
    """Build the kernel once per source and compiler (atomic rename, so concurrent builds are safe) and load it.

    The cache folder is created private (mode 0700); before loading, the folder and the library must belong to this
    user and be writable by no one else, and the library's sha256 must match the one recorded when it was built
    (``distance-<key>.sha256``): a library that differs (planted, corrupt, or from an older build without a record)
    is rebuilt before anything of it runs."""
    compiler = os.environ.get("CC", "cc")
    flags = ["-O3", "-march=native", "-shared", "-fPIC"]
    library = _cache_dir() / kernel_name(compiler, flags)
    library.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    _check_private(library.parent, "kernel cache folder")
    record = library.with_suffix(".sha256")
    if not library.exists() or not record.is_file() or record.read_text().strip() != _file_sha256(library):
        _build(compiler, flags, library)
    _check_private(library, "kernel library")
    if record.read_text().strip() != _file_sha256(library):
        raise OSError(f"kernel library {library} changed while it was being loaded: not loaded")
    lib = ctypes.CDLL(str(library))
    lib.hebbdam_distance.restype = None
    lib.hebbdam_distance.argtypes = [ctypes.c_void_p] * 3 + [ctypes.c_long] * 4 + [ctypes.c_int]
    return lib


def fast_kernel() -> ctypes.CDLL | None:
    """The compiled kernel, or None (the reason in :func:`fast_kernel_status`) when it cannot be built or is off."""
    global _kernel, _kernel_error
    if os.environ.get("HEBBDAM_FAST_DISTANCE", "1") == "0":
        return None
    if _kernel is None and _kernel_error is None:
        try:
            _kernel = _compile()
        except (OSError, subprocess.CalledProcessError) as err:
            detail = getattr(err, "stderr", b"") or b""
            _kernel_error = f"{type(err).__name__}: {err} {detail.decode(errors='replace')[:200]}".strip()
    return _kernel


def fast_kernel_status() -> str:
    """One line: which path float32 CPU distances take."""
    if os.environ.get("HEBBDAM_FAST_DISTANCE", "1") == "0":
        return "torch.cdist (HEBBDAM_FAST_DISTANCE=0)"
    if fast_kernel() is not None:
        return "compiled C kernel"
    return f"torch.cdist (kernel unavailable: {_kernel_error})"


def _uses_kernel(states: Tensor, memories: Tensor) -> bool:
    return (
        states.device.type == "cpu"
        and memories.device.type == "cpu"
        and states.dtype == torch.float32
        and memories.dtype == torch.float32
        and not (torch.is_grad_enabled() and (states.requires_grad or memories.requires_grad))  # cdist has a backward
        and fast_kernel() is not None
    )


def _kernel_distance(states: Tensor, memories: Tensor, norm: int) -> Tensor:
    """Σ_k |s_k - m_k|^norm, (B, D), (K, D) → (B, K), by the compiled kernel on row blocks in parallel."""
    states, memories = states.contiguous(), memories.contiguous()
    batch, count, dim = states.shape[0], memories.shape[0], states.shape[1]
    out = torch.empty(batch, count, dtype=torch.float32)
    if batch == 0 or count == 0:
        return out
    kernel = fast_kernel()
    if kernel is None:  # callers check _uses_kernel first
        raise RuntimeError("the compiled distance kernel is not available")
    threads = max(1, min(torch.get_num_threads(), count // 48 + 1))
    bounds = [count * t // threads for t in range(threads + 1)]
    ptr_s, ptr_m, ptr_o, size = states.data_ptr(), memories.data_ptr(), out.data_ptr(), 4

    def part(t: int) -> None:
        lo, hi = bounds[t], bounds[t + 1]
        kernel.hebbdam_distance(ptr_s, ptr_m + lo * dim * size, ptr_o + lo * size, batch, hi - lo, dim, count, norm)

    if threads == 1:
        part(0)
    else:
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(part, range(threads)))
    return out


def cdist_chunked(states: Tensor, memories: Tensor, norm: int, chunk: int = FALLBACK_CHUNK) -> Tensor:
    """The exact reference: ``torch.cdist`` (without the matmul shortcut) over chunks of memories, (B, K)."""
    parts = [
        torch.cdist(states, memories[start : start + chunk], p=float(norm), compute_mode="donot_use_mm_for_euclid_dist")
        for start in range(0, memories.shape[0], chunk)
    ]
    return torch.cat(parts, dim=1) if parts else states.new_zeros(states.shape[0], 0)


def _uses_triton(states: Tensor, memories: Tensor) -> bool:
    from . import distance_triton  # imports triton: only when a CUDA tensor comes

    return (
        states.device.type == "cuda"
        and memories.device.type == "cuda"
        and states.dtype == memories.dtype
        and states.dtype in (torch.float32, torch.bfloat16, torch.float16)
        and not (torch.is_grad_enabled() and (states.requires_grad or memories.requires_grad))
        and os.environ.get("HEBBDAM_FAST_DISTANCE", "1") != "0"
        and distance_triton.available()
    )


def pairwise_distance(states: Tensor, memories: Tensor, metric: str) -> Tensor:
    """(B, D), (K, D) → (B, K): ‖s - m‖₁ ("manhattan") or ‖s - m‖₂ ("euclidean")."""
    norm = NORMS[metric]
    if _uses_kernel(states, memories):
        total = _kernel_distance(states, memories, norm)
    elif _uses_triton(states, memories):
        from .distance_triton import triton_distance

        total = triton_distance(states, memories, norm).to(states.dtype)
    else:
        return cdist_chunked(states, memories, norm)
    return total if norm == 1 else total.sqrt_()
