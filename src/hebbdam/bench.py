"""``hebbdam bench``: the memory engine against the machine's own float32 GEMM rate, in one run.

Prints ratios, not absolute times (a timed test would only measure the CI runner), and writes
``reports/benchmarks.md`` (``--out`` for another path). Sizes follow issue 3:

- one-step softmax recall and one synchronous polynomial DAM step (n = 3), K = 8192, D = 784, B = 512, as a
  fraction of the GEMM rate (2·B·K·D flops per matmul, two matmuls per step), the GEMM timed on the same shapes;
- one asynchronous sweep of a Hopfield network (D = 1000, 256 states) against a per-neuron Python loop doing the
  same updates in the same order (timed on a few states and extrapolated: the full loop takes minutes);
- streamed softmax recall over K = 10⁶ memories (D = 64), its peak extra memory against the one-shot softmax.
Timings interleave the GEMM and the step under test and keep the best of several runs, because the CPU may be
shared; ratios near 1 mean the step runs at the matmul roofline.
"""

from __future__ import annotations

import multiprocessing
import platform
import resource
import time
from pathlib import Path

import torch

from . import io
from .dynamics import asynchronous_sweep, stream_step
from .logs import say
from .memory import DenseAM, Hopfield, ModernHopfield, Power
from .memory.base import BinaryMemory, sign_keep
from .memory.softmax import softmax_readout

RECALL_SIZES = {"memories": 8192, "dim": 784, "batch": 512}
ASYNC_SIZES = {"dim": 1000, "batch": 256, "patterns": 100, "reference_states": 4}
STREAM_SIZES = {"memories": 1_000_000, "dim": 64, "batch": 64, "chunks": (4096, 65536)}
REPEATS = 7
SOFTMAX_BETA = 1.0 / 28.0  # ≈ 1/√D: attention's temperature at D = 784
TARGET_GEMM_FRACTION = 0.9
TARGET_ASYNC_SPEEDUP = 50.0


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _timed(fn, device: torch.device) -> float:
    _sync(device)
    start = time.perf_counter()
    fn()
    _sync(device)
    return time.perf_counter() - start


def interleaved_best(functions: dict, device: torch.device, repeats: int = REPEATS) -> dict[str, float]:
    """Best wall time of each function, the functions run in turn ``repeats`` times (after one warm-up each)."""
    for fn in functions.values():
        fn()
    best = {name: float("inf") for name in functions}
    for _ in range(repeats):
        for name, fn in functions.items():
            best[name] = min(best[name], _timed(fn, device))
    return best


def reference_async_sweep(memory: BinaryMemory, states: torch.Tensor, order: torch.Tensor) -> torch.Tensor:
    """Per-neuron Python loop: for each state, for each neuron in ``order[b]``, σ_i ← sgn(field_i) from scratch.

    The reference the vectorised sweep is measured against (and checked equal to, in tests).
    """
    states = states.clone()
    for b in range(states.shape[0]):
        row = states[b : b + 1]
        for i in order[b].tolist():
            if isinstance(memory, Hopfield):
                field = memory.weights[i] @ row[0]
            else:  # the memory's own one-neuron field, its cache rebuilt from scratch (no incremental update)
                field = memory.field_at(memory.cache(row), row, torch.tensor([i], device=row.device))[0]
            row[0, i] = sign_keep(field, row[0, i])
    return states


def recall_ratios(device: torch.device, generator: torch.Generator) -> dict:
    k, d, b = RECALL_SIZES["memories"], RECALL_SIZES["dim"], RECALL_SIZES["batch"]
    memories = (torch.randint(0, 2, (k, d), generator=generator) * 2.0 - 1.0).to(device)
    states = (torch.randint(0, 2, (b, d), generator=generator) * 2.0 - 1.0).to(device)
    softmax = ModernHopfield(memories, beta=SOFTMAX_BETA).to(device)
    dense = DenseAM(memories, Power(3)).to(device)
    probabilities = torch.softmax(torch.mm(states, memories.T) * SOFTMAX_BETA, dim=-1)
    times = interleaved_best(
        {
            "gemm": lambda: torch.mm(states, memories.T),
            "gemm_back": lambda: torch.mm(probabilities, memories),
            "softmax": lambda: softmax.step(states),
            "dense": lambda: dense.step(states),
        },
        device,
    )
    step_flops = 4 * b * k * d
    gemm_rate = step_flops / (times["gemm"] + times["gemm_back"])  # the step's two GEMM shapes, back to back
    return {
        "gemm_gflops": gemm_rate / 1e9,
        "softmax_fraction": step_flops / times["softmax"] / gemm_rate,
        "dense_fraction": step_flops / times["dense"] / gemm_rate,
        "times": times,
    }


class _threads:
    """Run small-op-bound loops single-threaded on CPU: on a shared, oversubscribed CPU, OpenMP teams of tiny ops
    stall waiting for a descheduled thread (measured 10× slower with 2 threads than with 1 here)."""

    def __init__(self, device: torch.device):
        self.device, self.saved = device, torch.get_num_threads()

    def __enter__(self):
        if self.device.type == "cpu":
            torch.set_num_threads(1)

    def __exit__(self, *exc):
        torch.set_num_threads(self.saved)


def async_speedup(device: torch.device, generator: torch.Generator) -> dict:
    d, b, p, sub = (ASYNC_SIZES[key] for key in ("dim", "batch", "patterns", "reference_states"))
    patterns = torch.randint(0, 2, (p, d), generator=generator) * 2.0 - 1.0
    weights = (patterns.T @ patterns / d).fill_diagonal_(0.0)
    memory = Hopfield(weights).to(device)
    states = (torch.randint(0, 2, (b, d), generator=generator) * 2.0 - 1.0).to(device)
    order = torch.rand(sub, d, generator=torch.Generator().manual_seed(2)).argsort(dim=1)
    with _threads(device):
        times = interleaved_best(
            {"sweep": lambda: asynchronous_sweep(memory, states, torch.Generator().manual_seed(1))},
            device,
            repeats=3,
        )
        reference = _timed(lambda: reference_async_sweep(memory, states[:sub], order), device)
    extrapolated = reference * b / sub
    return {
        "sweep_s": times["sweep"],
        "reference_s_subset": reference,
        "reference_s_extrapolated": extrapolated,
        "speedup": extrapolated / times["sweep"],
    }


def _stream_child(kind: str, chunk: int, queue) -> None:
    """Peak resident-memory growth (bytes) of one recall over 10⁶ memories, in a fresh process."""
    torch.set_num_threads(1)  # see _threads
    gen = torch.Generator().manual_seed(0)
    k, d, b = STREAM_SIZES["memories"], STREAM_SIZES["dim"], STREAM_SIZES["batch"]
    memories = torch.empty(k, d)
    memories.bernoulli_(0.5, generator=gen).mul_(2.0).sub_(1.0)
    queries = memories[:b].clone()
    queries[:, : d // 8] *= -1.0
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    start = time.perf_counter()
    if kind == "streamed":
        out = stream_step(queries, memories, 1.0, chunk=chunk)
    else:
        out = softmax_readout(queries, memories, memories, 1.0)
    seconds = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    exact = bool((out.sign() == memories[:b]).all())
    queue.put({"peak_extra_bytes": max(0, after - before), "seconds": seconds, "recalled": exact})


def stream_memory() -> list[dict]:
    """Streamed recall at two chunk sizes and the one-shot softmax, each in its own process (clean peak RSS)."""
    context = multiprocessing.get_context("spawn")
    runs = [("streamed", chunk) for chunk in STREAM_SIZES["chunks"]] + [("one-shot", STREAM_SIZES["memories"])]
    results = []
    for kind, chunk in runs:
        queue = context.Queue()
        process = context.Process(target=_stream_child, args=(kind, chunk, queue))
        process.start()
        result = queue.get()
        process.join()
        b = STREAM_SIZES["batch"]
        results.append({"kind": kind, "chunk": chunk, "b_times_chunk_mib": b * chunk * 4 / 2**20, **result})
    return results


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def render(sections: list[tuple[str, dict, dict, list[dict] | None]]) -> str:
    lines = [
        "# Memory-engine benchmarks",
        "",
        "Written by `hebbdam bench` (src/hebbdam/bench.py); rerun it to refresh. Ratios are measured against the",
        "same machine in the same run; the GEMM is `torch.mm` on the (B, D) × (D, K) shapes of the recall step,",
        "each step counts 2 matmuls (4·B·K·D flops); the GEMM rate is that of the step's two matmul shapes",
        "(S Ξᵀ and A Ξ) back to back. Best of interleaved repeats (the CPU may be shared). The asynchronous",
        "sweep, its reference and the streamed recall run single-threaded on CPU (both sides of each ratio).",
        "",
    ]
    for device_name, recall, asyn, stream in sections:
        k, d, b = RECALL_SIZES["memories"], RECALL_SIZES["dim"], RECALL_SIZES["batch"]
        lines += [
            f"## {device_name}",
            "",
            f"float32 GEMM rate: **{recall['gemm_gflops']:.1f} GFLOP/s** ({b}×{d} · {d}×{k})",
            "",
            "| measurement | result | target |",
            "|---|---|---|",
            f"| one-step softmax recall, K={k}, D={d}, B={b} | {recall['softmax_fraction']:.0%} of GEMM rate "
            f"| ≥ {TARGET_GEMM_FRACTION:.0%} |",
            f"| synchronous polynomial DAM step (n=3), same sizes | {recall['dense_fraction']:.0%} of GEMM rate "
            f"| ≥ {TARGET_GEMM_FRACTION:.0%} |",
            f"| asynchronous Hopfield sweep, D={ASYNC_SIZES['dim']}, {ASYNC_SIZES['batch']} states "
            f"| {asyn['speedup']:.0f}× a per-neuron Python loop | ≥ {TARGET_ASYNC_SPEEDUP:.0f}× |",
            "",
            f"Async sweep: {asyn['sweep_s'] * 1e3:.1f} ms vectorised; the per-neuron loop took "
            f"{asyn['reference_s_subset']:.2f} s on {ASYNC_SIZES['reference_states']} states, extrapolated ×"
            f"{ASYNC_SIZES['batch'] // ASYNC_SIZES['reference_states']} to {asyn['reference_s_extrapolated']:.1f} s.",
            "",
        ]
        if stream:
            lines += [
                f"Recall over K = {STREAM_SIZES['memories']:,} memories, D = {STREAM_SIZES['dim']}, "
                f"B = {STREAM_SIZES['batch']} queries (⅛ of the bits flipped); peak growth of resident memory "
                "during the recall, each run in a fresh process:",
                "",
                "| recall | chunk | B × chunk × 4 B | peak extra memory | time | all recalled |",
                "|---|---|---|---|---|---|",
            ]
            for row in stream:
                lines.append(
                    f"| {row['kind']} | {row['chunk']:,} | {row['b_times_chunk_mib']:.0f} MiB "
                    f"| {row['peak_extra_bytes'] / 2**20:.0f} MiB | {row['seconds']:.2f} s | {row['recalled']} |"
                )
            lines.append("")
    return "\n".join(lines)


def run(out: str | Path = "reports/benchmarks.md") -> str:
    generator = torch.Generator().manual_seed(0)
    sections = []
    devices = [torch.device("cpu")] + ([torch.device("cuda")] if torch.cuda.is_available() else [])
    for device in devices:
        if device.type == "cuda":
            name = f"GPU: {torch.cuda.get_device_name(device)} (torch {torch.__version__})"
        else:
            name = f"CPU: {_cpu_name()}, {torch.get_num_threads()} threads (torch {torch.__version__})"
        say(f"bench on {name}")
        recall = recall_ratios(device, generator)
        say(f"softmax recall {recall['softmax_fraction']:.0%} and DAM step {recall['dense_fraction']:.0%} of GEMM")
        asyn = async_speedup(device, generator)
        say(f"async sweep {asyn['speedup']:.0f}× the per-neuron loop")
        stream = stream_memory() if device.type == "cpu" else None
        for row in stream or []:
            say(f"{row['kind']} recall, chunk {row['chunk']}: peak +{row['peak_extra_bytes'] / 2**20:.0f} MiB")
        sections.append((name, recall, asyn, stream))
    text = render(sections)
    io.write_text(out, text + "\n")
    print(text)
    return text


def main(args) -> None:
    run(getattr(args, "out", None) or "reports/benchmarks.md")
