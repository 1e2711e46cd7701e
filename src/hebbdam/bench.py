"""``hebbdam bench``: the memory engine against the machine's own GEMM rate and against the kernel a user would
pick instead (torch's fused attention, ``torch.cdist``), side by side in one process.

Prints ratios, not absolute times (a timed test would only measure the CI runner), and writes
``reports/benchmarks.md`` and the scaling figure ``reports/figures/bench_scaling.png`` beside it (``--out`` for
another markdown path). Timings interleave every function of a comparison and keep the best of several runs,
because the CPU may be shared; the machine's load (``os.getloadavg``) is printed with the results.

CPU sections (K = 8192, D = 784, B = 512 unless said):
- one-step softmax recall (the repository's ``ModernHopfield.step``), SDPA and plain torch (mm, softmax, mm) on
  the same inputs, and one synchronous polynomial DAM step (n = 3), as fractions of the GEMM rate of the step's
  two matmul shapes and as ratios to SDPA;
- Manhattan and Euclidean recall (``UniversalHopfield``, max and softmax separation) against ``torch.cdist`` and
  the same-shape GEMM (B, D) × (D, K);
- E9's softmax token mixer (causal attention through SDPA, ``SoftmaxMemory.parallel``) against its explicit
  matmul-softmax-matmul form, forward and forward + backward (the trained arms);
- one asynchronous Hopfield sweep (D = 1000, 256 states) against a per-neuron Python loop;
- streamed softmax recall over K = 10⁶ memories (D = 64): peak extra memory and throughput;
- recall time against K (10³ … 10⁶) and D, with the GEMM line (the figure).
GPU section, when CUDA is present: the same recall rows at D ∈ {64, 128, 256, 784} in bfloat16, float32 and TF32
as fractions of the cuBLAS GEMM and of SDPA; Manhattan recall; streamed recall over K = 10⁸ (D = 64); the
asynchronous sweep on the GPU against the CPU.
"""

from __future__ import annotations

import functools
import multiprocessing
import os
import resource
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypedDict

import torch
import torch.nn.functional as F
import torch.utils.benchmark as benchmark

from . import io
from .dynamics import asynchronous_sweep, single_cpu_thread
from .engine import precision
from .logs import say
from .memory import DenseAM, Hopfield, ModernHopfield, Power, UniversalHopfield
from .memory.base import BinaryMemory, sign_keep
from .memory.core import explicit_attention, gemm_readout, uses_fused_attention
from .memory.distance import fast_kernel_status
from .memory.mixers import SoftmaxMemory
from .memory.softmax import stream_step
from .timings import cpu_name

RECALL_SIZES = {"memories": 8192, "dim": 784, "batch": 512}
# E9's shapes (d_key 16, d_value 64: SDPA's CPU flash kernel refuses unequal widths, so the mixer takes the explicit
# form) and equal widths (the flash kernel): MQAR-like, L 256
MIXER_SIZES = {"batch": 16, "length": 256, "d_key": 16, "d_value": 64}
MIXER_EQUAL_SIZES = {"batch": 16, "length": 256, "d_key": 64, "d_value": 64}
# E8b's full-batch completion fit (K 64, D 784, P 128), an E8a denoising fit (K = D = 64, P 96, batch 64) and an E8a
# Hebbian write (Storkey's D × D weights, P 96 in one batch: one update)
FIT_SIZES = {
    "images": {"memories": 64, "dim": 784, "patterns": 128, "batch": 128, "per_epoch": 20, "updates": 40},
    "patterns": {"memories": 64, "dim": 64, "patterns": 96, "batch": 64, "updates": 40},
    "hebbian": {"memories": 64, "dim": 64, "patterns": 96, "batch": 96, "updates": 1},
}
ASYNC_SIZES = {"dim": 1000, "batch": 256, "patterns": 100, "reference_states": 4}


class StreamSizes(TypedDict):
    """The streamed-recall benchmark: K memories of D, B queries, the chunk sizes of ``stream_step``."""

    memories: int
    dim: int
    batch: int
    chunks: tuple[int, ...]


STREAM_SIZES: StreamSizes = {"memories": 1_000_000, "dim": 64, "batch": 64, "chunks": (4096, 65536)}
SCALING_MEMORIES = {"memories": (1_000, 10_000, 100_000, 1_000_000), "dim": 64, "batch": 64}
SCALING_DIMS = {"dims": (64, 128, 256, 784), "memories": 8192, "batch": 512}
SCALING_CHUNK = 65536  # recall streams the memories beyond this many
GPU_SIZES = {
    "dims": (64, 128, 256, 784),
    "memories": 65536,
    "batch": 4096,
    "stream_memories": 100_000_000,
    "async": ASYNC_SIZES,
}
GPU_PRECISIONS = ("bfloat16", "float32", "tf32")
REPEATS = 9
MIN_RUN_S = 0.01  # each measurement: blocks of calls for at least this long (benchmark.Timer.blocked_autorange)
DISTANCE_REPEATS = 3  # torch.cdist takes ~20 GEMM times: three timed rounds after the warm-up
SOFTMAX_BETA = 1.0 / 28.0  # ≈ 1/√D: attention's temperature at D = 784
DISTANCE_BETA = 0.05
TARGET_GEMM_FRACTION = 0.9
TARGET_SDPA_RATIO = 1.0
TARGET_DISTANCE_GEMM_MULTIPLE = 4.0
TARGET_ASYNC_SPEEDUP = 50.0
NO_GPU = "no CUDA device: GPU section not run"
STREAMED, FUSED, MATERIALISED = "stream_step", "ModernHopfield.step (SDPA)", "materialised (gemm_readout)"


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _timed(fn, device: torch.device) -> float:
    """Wall time of one call. Kept for the one-call timings (the Python reference sweep, the 10⁶-memory stream),
    where a repeated measurement such as torch.utils.benchmark's would multiply minutes of work."""
    _sync(device)
    start = time.perf_counter()
    fn()
    _sync(device)
    return time.perf_counter() - start


def _measured(fn) -> float:
    """Seconds per call of ``fn``: the median of torch.utils.benchmark.Timer's blocked_autorange (blocks of calls
    for at least ``MIN_RUN_S``; the Timer synchronises CUDA and keeps this process's thread count)."""
    timer = benchmark.Timer(stmt="fn()", globals={"fn": fn}, num_threads=torch.get_num_threads())
    return timer.blocked_autorange(min_run_time=MIN_RUN_S).median


def interleaved_rounds(functions: dict, device: torch.device, repeats: int = REPEATS) -> dict[str, list[float]]:
    """Seconds per call of each function in each of ``repeats`` rounds (after one warm-up each); a round measures
    every function once (:func:`_measured`), in reverse order on odd rounds, so the functions of one round share the
    machine's load. The rounds are ours because benchmark.Timer measures one statement at a time and cannot
    interleave several; within a round each measurement is the Timer's."""
    for fn in functions.values():
        fn()
    rounds: dict[str, list[float]] = {name: [] for name in functions}
    for r in range(repeats):
        for name in list(functions)[:: -1 if r % 2 else 1]:
            rounds[name].append(_measured(functions[name]))
    return rounds


def interleaved_best(functions: dict, device: torch.device, repeats: int = REPEATS) -> dict[str, float]:
    """Best wall time of each function over interleaved rounds (see :func:`interleaved_rounds`)."""
    return {name: min(times) for name, times in interleaved_rounds(functions, device, repeats).items()}


def paired_ratio(rounds: dict[str, list[float]], numerator: tuple[str, ...], denominator: str) -> float:
    """Median over rounds of (Σ numerator times) / (denominator time), each ratio taken within one round: on a
    shared CPU the load changes between rounds, and the median of same-round ratios follows the work, not the
    load, where a ratio of best times compares two different moments."""
    ratios = [sum(rounds[n][r] for n in numerator) / rounds[denominator][r] for r in range(len(rounds[denominator]))]
    return float(torch.tensor(ratios).median())


def load() -> str:
    """The 1, 5 and 15 minute load averages, as ``uptime`` prints them."""
    try:
        return ", ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "unknown"


def _bipolar(rows: int, dim: int, generator: torch.Generator, device: torch.device, dtype=torch.float32):
    return (torch.randint(0, 2, (rows, dim), generator=generator) * 2.0 - 1.0).to(device=device, dtype=dtype)


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


def sdpa(states: torch.Tensor, memories: torch.Tensor, values: torch.Tensor, beta: float) -> torch.Tensor:
    """torch's fused attention called directly, the queries as the sequence axis: (B, D), (K, D), (K, Dv) → (B, Dv)."""
    return F.scaled_dot_product_attention(states[None], memories[None], values[None], scale=beta)[0]


# softmax recall -------------------------------------------------------------------------------------------------------
def softmax_rows(
    device: torch.device, generator: torch.Generator, sizes: dict = RECALL_SIZES, dtype=torch.float32, repeats=REPEATS
) -> dict:
    """The repository's softmax recall, SDPA, plain torch and the polynomial DAM step against the GEMM rate."""
    k, d, b = sizes["memories"], sizes["dim"], sizes["batch"]
    memories = _bipolar(k, d, generator, device, dtype)
    states = _bipolar(b, d, generator, device, dtype)
    softmax = ModernHopfield(memories, beta=SOFTMAX_BETA)
    dense = DenseAM(memories, Power(3)) if dtype == torch.float32 else None
    probabilities = torch.softmax(torch.mm(states, memories.T) * SOFTMAX_BETA, dim=-1)
    functions = {
        "gemm": lambda: torch.mm(states, memories.T),
        "gemm_back": lambda: torch.mm(probabilities, memories),
        "softmax": lambda: softmax.step(states),
        "sdpa": lambda: sdpa(states, memories, memories, SOFTMAX_BETA),
        "plain": lambda: torch.softmax(SOFTMAX_BETA * states @ memories.T, dim=-1) @ memories,
    }
    if dense is not None:
        functions["dense"] = lambda: dense.step(states)
    rounds = interleaved_rounds(functions, device, repeats)
    times = {name: min(t) for name, t in rounds.items()}
    step_flops = 4 * b * k * d
    gemm_pair = ("gemm", "gemm_back")  # the step's two GEMM shapes, back to back
    reference = functions["plain"]().double()
    return {
        "gemm_gflops": step_flops / (times["gemm"] + times["gemm_back"]) / 1e9,
        "gemm_fraction": {name: paired_ratio(rounds, gemm_pair, name) for name in functions if name not in gemm_pair},
        "gemm_fraction_best": {
            name: (times["gemm"] + times["gemm_back"]) / t for name, t in times.items() if name not in gemm_pair
        },
        "softmax_vs_sdpa": paired_ratio(rounds, ("sdpa",), "softmax"),
        "softmax_vs_sdpa_best": times["sdpa"] / times["softmax"],
        "plain_vs_sdpa": paired_ratio(rounds, ("sdpa",), "plain"),
        "max_abs_diff": {
            "sdpa": (functions["sdpa"]().double() - reference).abs().max().item(),
            "softmax": (functions["softmax"]().double() - reference).abs().max().item(),
        },
        "times": times,
    }


# E9 token mixer -------------------------------------------------------------------------------------------------------
def mixer_rows(device: torch.device, generator: torch.Generator, sizes: dict = MIXER_SIZES, repeats=REPEATS) -> dict:
    """E9's causal softmax mixer (SDPA) against the explicit matmul-softmax-matmul on the same q, k, v, forward and
    forward + backward; ratios are explicit time / mixer time (> 1: the fused path is faster)."""
    b, length, d, dv = sizes["batch"], sizes["length"], sizes["d_key"], sizes["d_value"]
    q, k = (torch.randn(b, length, d, generator=generator).to(device) for _ in range(2))
    v = torch.randn(b, length, dv, generator=generator).to(device)
    mixer = SoftmaxMemory(d)
    trainable = [x.clone().requires_grad_(True) for x in (q, k, v)]

    def explicit(queries: torch.Tensor, keys: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
        return explicit_attention(queries, keys, values, mixer.beta, causal=True)

    functions = {
        "mixer": lambda: mixer.parallel(q, k, v),
        "explicit": lambda: explicit(q, k, v),
        "mixer_backward": lambda: mixer.parallel(*trainable).sum().backward(),
        "explicit_backward": lambda: explicit(*trainable).sum().backward(),
    }
    rounds = interleaved_rounds(functions, device, repeats)
    reference = explicit(q.double(), k.double(), v.double())
    return {
        "sizes": dict(sizes),
        "fused": uses_fused_attention(q, k, v),
        "times": {name: min(t) for name, t in rounds.items()},
        "forward_ratio": paired_ratio(rounds, ("explicit",), "mixer"),
        "backward_ratio": paired_ratio(rounds, ("explicit_backward",), "mixer_backward"),
        "max_abs_diff": (mixer.parallel(q, k, v).double() - reference).abs().max().item(),
    }


# memorisation fits: Lightning against the plain loop ------------------------------------------------------------------
def _fit_case(case: str, sizes: dict, generator: torch.Generator) -> tuple[Callable[[], object], Callable[[], object]]:
    """One fit of ``sizes["updates"]`` updates through Lightning and through :func:`hebbdam.lit.loop.fit_plain`,
    each from a fresh module (the same one): E8b's (``case`` "images": :class:`Completion` of the bottom half, K
    units, P stored rows, full batch, rows repeated so an epoch holds ``per_epoch`` updates, a per-epoch
    :class:`Plateau`) or E8a's ("patterns": :class:`Denoising` of P ±1 patterns in a K-slot DAM, minibatches, a
    per-update Plateau with noise). The Plateaus never stop (tolerance 0, floor 0, a window past the fit)."""
    from .experiments.budget_images import Completion
    from .lit.backprop import BackpropModule, Denoising, MemoryMatrix, Plateau, fit_backprop
    from .lit.loop import fit_plain
    from .memory import Exponential

    k, d, p, batch = sizes["memories"], sizes["dim"], sizes["patterns"], sizes["batch"]
    rows = _bipolar(p, d, generator, torch.device("cpu"))
    if case == "hebbian":
        return _store_case(rows, batch)
    if case == "images":
        hidden = torch.arange(d) >= d // 2
        objective: object = Completion(hidden, Exponential(beta=float(d) / 8), steps=1)
        rows = rows.repeat(sizes["per_epoch"] * batch // p, 1)
        unit = "epoch"
    else:
        objective, unit = Denoising(steps=3, flip=0.1), "update"
    epochs = -(-sizes["updates"] // -(-rows.shape[0] // batch))

    def module() -> BackpropModule:
        return BackpropModule(MemoryMatrix(k, d, Exponential(beta=1.0), init_std=0.1), objective, lr=1e-3, seed=0)

    def plateau() -> Plateau:
        return Plateau(window=10**9, tolerance=0.0, floor=0.0, unit=unit, noise=0.5 if unit == "update" else 0.0)

    def lightning() -> object:
        return fit_backprop(module(), rows, batch, epochs, {}, logger=False, callbacks=[plateau()], shuffle=True)

    def plain() -> object:
        return fit_plain(module(), rows, batch, epochs, shuffle=True, plateau=plateau())

    return lightning, plain


def _store_case(rows: torch.Tensor, batch: int) -> tuple[Callable[[], object], Callable[[], object]]:
    """One Storkey write of ``rows`` (P, D) in batches of ``batch``: through a ``pl.Trainer`` and through
    :func:`hebbdam.lit.storage.write_plain`, which ``lit.store`` takes on one CPU process with no logger."""
    from .lit.data import PatternDataModule
    from .lit.storage import HebbianModule, write_plain
    from .lit.trainer import fit
    from .rules import get_rule

    rule = get_rule("storkey")

    def lightning() -> object:
        return fit(HebbianModule(rule, rows.shape[1]), PatternDataModule(rows, batch), {}, max_epochs=1, logger=False)

    def plain() -> object:
        module = HebbianModule(rule, rows.shape[1])
        write_plain(module, rows, batch, 1)
        return module

    return lightning, plain


def fit_rows(sizes: dict = FIT_SIZES, repeats: int = 3) -> dict:
    """ms per update of E8's memorisation fits through Lightning and through the plain loop (one thread), and the
    median same-round ratio Lightning / plain (> 1: the plain loop is faster)."""
    generator = torch.Generator().manual_seed(0)
    result: dict[str, dict] = {}
    with single_cpu_thread("cpu"):
        for case, shape in sizes.items():
            lightning, plain = _fit_case(case, shape, generator)
            rounds = interleaved_rounds({"lightning": lightning, "plain": plain}, torch.device("cpu"), repeats)
            per_update = {name: min(times) / shape["updates"] for name, times in rounds.items()}
            result[case] = {
                "sizes": dict(shape),
                "ms_per_update": {n: 1e3 * t for n, t in per_update.items()},
                "ratio": paired_ratio(rounds, ("lightning",), "plain"),
            }
    return result


def render_fits(fits: dict) -> list[str]:
    lines = [
        "### Memorisation fits: Lightning against the plain loop (`hebbdam.lit.loop.fit_plain`)",
        "",
        "The same fit (bitwise the same weights, tests/lit/test_loop.py) through `pl.Trainer` and through the plain",
        "PyTorch loop that `fit_until_plateau` and `fit_denoising(plateau=…)` take on one CPU process; one thread.",
        "The Hebbian write: `lit.store` through `pl.Trainer` and through `hebbdam.lit.storage.write_plain`.",
        "",
        "| fit | K | D | P | batch | updates | Lightning ms/update | plain ms/update | Lightning / plain |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    names = {"images": "E8b completion (full batch)", "patterns": "E8a denoising", "hebbian": "E8a Storkey write"}
    for case, row in fits.items():
        m, t = row["sizes"], row["ms_per_update"]
        units = "—" if case == "hebbian" else m["memories"]  # a pairwise write has D × D weights, no units
        lines.append(
            f"| {names.get(case, case)} | {units} | {m['dim']} | {m['patterns']} | {m['batch']} "
            f"| {m['updates']} | {t['lightning']:.2f} | {t['plain']:.2f} | {row['ratio']:.2f} |"
        )
    return [*lines, ""]


# distance recall ------------------------------------------------------------------------------------------------------
def distance_rows(
    device: torch.device, generator: torch.Generator, sizes: dict = RECALL_SIZES, repeats: int = DISTANCE_REPEATS
) -> dict:
    """Manhattan / Euclidean recall (max and softmax separation) and ``torch.cdist`` as multiples of one GEMM."""
    k, d, b = sizes["memories"], sizes["dim"], sizes["batch"]
    memories = torch.rand(k, d, generator=generator).to(device)  # pixel-like values in [0, 1)
    states = torch.rand(b, d, generator=generator).to(device)
    uhn = {
        f"{metric}_{sep}": UniversalHopfield(memories, metric, sep, beta=DISTANCE_BETA)
        for metric in ("manhattan", "euclidean")
        for sep in ("max", "softmax")
    }
    functions: dict[str, Callable[[], torch.Tensor]] = {"gemm": lambda: torch.mm(states, memories.T)}
    functions.update({name: functools.partial(m.step, states) for name, m in uhn.items()})
    functions["cdist_manhattan"] = lambda: torch.cdist(states, memories, p=1.0)
    functions["cdist_euclidean"] = lambda: torch.cdist(
        states, memories, p=2.0, compute_mode="donot_use_mm_for_euclid_dist"
    )
    rounds = interleaved_rounds(functions, device, repeats)
    times = {name: min(t) for name, t in rounds.items()}
    similarity = uhn["manhattan_max"].scores(states).neg_()
    return {
        "kernel": fast_kernel_status() if device.type == "cpu" else "Triton kernel, else torch.cdist (chunked)",
        "gemm_multiple": {name: 1.0 / paired_ratio(rounds, ("gemm",), name) for name in functions if name != "gemm"},
        "manhattan_max_rel_diff": ((similarity - torch.cdist(states, memories, p=1.0)).abs().max() / d).item(),
        "times": times,
    }


# asynchronous sweep ---------------------------------------------------------------------------------------------------
def _async_setup(device: torch.device, generator: torch.Generator, sizes: dict):
    d, b, p = sizes["dim"], sizes["batch"], sizes["patterns"]
    patterns = torch.randint(0, 2, (p, d), generator=generator) * 2.0 - 1.0
    weights = (patterns.T @ patterns / d).fill_diagonal_(0.0)
    states = torch.randint(0, 2, (b, d), generator=generator) * 2.0 - 1.0
    return Hopfield(weights).to(device), states.to(device)


def async_speedup(device: torch.device, generator: torch.Generator, sizes: dict = ASYNC_SIZES) -> dict:
    memory, states = _async_setup(device, generator, sizes)
    sub, d, b = sizes["reference_states"], sizes["dim"], sizes["batch"]
    order = torch.rand(sub, d, generator=torch.Generator().manual_seed(2)).argsort(dim=1)
    with single_cpu_thread(device):
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


# streamed recall ------------------------------------------------------------------------------------------------------
def _stream_child(kind: str, chunk: int, queue) -> None:
    """Peak resident-memory growth (bytes) of one recall over 10⁶ memories, in a fresh process."""
    torch.set_num_threads(1)  # a fresh process, left at exit: see dynamics.single_cpu_thread
    gen = torch.Generator().manual_seed(0)
    k, d, b = STREAM_SIZES["memories"], STREAM_SIZES["dim"], STREAM_SIZES["batch"]
    memories = torch.empty(k, d)
    memories.bernoulli_(0.5, generator=gen).mul_(2.0).sub_(1.0)
    queries = memories[:b].clone()
    queries[:, : d // 8] *= -1.0
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    start = time.perf_counter()
    if kind == STREAMED:
        out = stream_step(queries, memories, 1.0, chunk=chunk)
    elif kind == FUSED:
        out = ModernHopfield(memories, 1.0, chunk=chunk).step(queries)
    else:
        out = gemm_readout(queries, memories, memories, 1.0)
    seconds = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    exact = bool((out.sign() == memories[:b]).all())
    queue.put({"peak_extra_bytes": max(0, after - before), "seconds": seconds, "recalled": exact})


def stream_memory() -> list[dict]:
    """``stream_step`` at two chunk sizes, the repository's recall (SDPA, which streams by itself on the CPU) and
    the materialised GEMM-softmax-GEMM, each in its own process (clean peak RSS)."""
    context = multiprocessing.get_context("spawn")
    runs: list[tuple[str, int | None]] = [(STREAMED, chunk) for chunk in STREAM_SIZES["chunks"]]
    runs += [(FUSED, None), (MATERIALISED, STREAM_SIZES["memories"])]
    k, d, b = STREAM_SIZES["memories"], STREAM_SIZES["dim"], STREAM_SIZES["batch"]
    results = []
    for kind, chunk in runs:
        queue = context.Queue()
        process = context.Process(target=_stream_child, args=(kind, chunk, queue))
        process.start()
        result = queue.get()
        process.join()
        throughput = {"memories_per_s": k / result["seconds"], "gflops": 4 * b * k * d / result["seconds"] / 1e9}
        row = {"kind": kind, "chunk": chunk, "b_times_chunk_mib": None if chunk is None else b * chunk * 4 / 2**20}
        results.append({**row, **result, **throughput})
    return results


# scaling --------------------------------------------------------------------------------------------------------------
def _scaling_point(axis: str, k: int, d: int, b: int, generator: torch.Generator, device: torch.device) -> dict:
    memories = _bipolar(k, d, generator, device)
    states = _bipolar(b, d, generator, device)
    chunk = SCALING_CHUNK if k > SCALING_CHUNK else None
    softmax = ModernHopfield(memories, beta=1.0 / d**0.5, chunk=chunk)
    manhattan = UniversalHopfield(memories, "manhattan", "max", chunk=chunk)
    # β-scaled like the softmax recall it is compared with: unscaled ±1 logits at D = 784 left 20% of the weights
    # denormal floats, and the second product then ran 32-43× slower on an Intel CPU
    weights = torch.softmax(states @ memories.T / d**0.5, dim=-1)
    times = interleaved_best(
        {
            "gemm": lambda: (torch.mm(states, memories.T), torch.mm(weights, memories)),
            "softmax": lambda: softmax.step(states),
            "sdpa": lambda: sdpa(states, memories, memories, 1.0 / d**0.5),
            "manhattan": lambda: manhattan.step(states),
        },
        device,
        repeats=3,
    )
    row = {"axis": axis, "memories": k, "dim": d, "batch": b, "streamed": chunk is not None}
    return row | {f"{name}_s": t for name, t in times.items()}


def scaling(device: torch.device, generator: torch.Generator, by_k=SCALING_MEMORIES, by_d=SCALING_DIMS) -> list[dict]:
    """Recall time against K (D, B fixed) and against D (K, B fixed), with the GEMM of the same shapes."""
    rows = [_scaling_point("memories", k, by_k["dim"], by_k["batch"], generator, device) for k in by_k["memories"]]
    rows += [_scaling_point("dim", by_d["memories"], d, by_d["batch"], generator, device) for d in by_d["dims"]]
    return rows


# GPU ------------------------------------------------------------------------------------------------------------------
def accelerator_section(device: torch.device, generator: torch.Generator, sizes: dict = GPU_SIZES) -> dict:
    """The GPU rows: softmax recall per D and precision against GEMM and SDPA, Manhattan recall, streamed recall
    over ``stream_memories`` (D = 64) with its peak memory, and the async sweep against the CPU's. Runs on any
    device (the tests call it on the CPU with small sizes)."""
    recall = []
    for d in sizes["dims"]:
        for name in GPU_PRECISIONS:
            dtype = torch.bfloat16 if name == "bfloat16" else torch.float32
            shape = {"memories": sizes["memories"], "dim": d, "batch": sizes["batch"]}
            with precision("tf32" if name == "tf32" else "float32", device):
                row = softmax_rows(device, generator, shape, dtype=dtype, repeats=3)
            recall.append({"dim": d, "precision": name, **row})
    distance = distance_rows(device, generator, {"memories": sizes["memories"], "dim": 784, "batch": sizes["batch"]})
    stream = _device_stream(device, generator, sizes["stream_memories"])
    cpu, gpu = (async_speedup(dev, generator, sizes["async"]) for dev in (torch.device("cpu"), device))
    return {
        "recall": recall,
        "distance": distance,
        "stream": stream,
        "async_cpu_s": cpu["sweep_s"],
        "async_s": gpu["sweep_s"],
    }


def _device_stream(device: torch.device, generator: torch.Generator, k: int, d: int = 64, b: int = 64) -> dict:
    chunk = min(k, 1 << 20)
    memories = torch.empty(k, d, device=device).bernoulli_(0.5).mul_(2.0).sub_(1.0)
    queries = memories[:b].clone()
    queries[:, : d // 8] *= -1.0
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
        base = torch.cuda.memory_allocated(device)
    seconds = _timed(lambda: stream_step(queries, memories, 1.0, chunk=chunk), device)
    out = stream_step(queries, memories, 1.0, chunk=chunk)
    peak = torch.cuda.max_memory_allocated(device) - base if device.type == "cuda" else None
    return {
        "memories": k,
        "chunk": chunk,
        "seconds": seconds,
        "peak_extra_bytes": peak,
        "memories_per_s": k / seconds,
        "recalled": bool((out.sign() == memories[:b]).all()),
    }


# report ---------------------------------------------------------------------------------------------------------------


def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:.1f} ms"


def render_cpu(
    name: str, loads: tuple[str, str], recall: dict, mixers: list[dict], distance: dict, asyn: dict, stream: list[dict]
) -> list[str]:
    k, d, b = RECALL_SIZES["memories"], RECALL_SIZES["dim"], RECALL_SIZES["batch"]
    t, frac, best = recall["times"], recall["gemm_fraction"], recall["gemm_fraction_best"]
    dt, mult = distance["times"], distance["gemm_multiple"]
    lines = [
        f"## {name}",
        "",
        f"Load average (1, 5, 15 min) at the start: {loads[0]}; at the end: {loads[1]}. float32 GEMM rate: "
        f"**{recall['gemm_gflops']:.1f} GFLOP/s** ({b}×{d} · {d}×{k} and back).",
        "",
        f"### Softmax recall, K={k}, D={d}, B={b}, β={SOFTMAX_BETA:.4f}",
        "",
        "Ratios are medians of same-round ratios over the interleaved rounds (best-of-rounds ratio in brackets);",
        "times are the best round.",
        "",
        "| recall | best time | fraction of GEMM rate | SDPA time / this time | max abs diff to plain torch |",
        "|---|---|---|---|---|",
        f"| repository (`ModernHopfield.step`) | {_ms(t['softmax'])} | {frac['softmax']:.2f} ({best['softmax']:.2f}) "
        f"| {recall['softmax_vs_sdpa']:.2f} ({recall['softmax_vs_sdpa_best']:.2f}) "
        f"| {recall['max_abs_diff']['softmax']:.1e} |",
        f"| torch SDPA | {_ms(t['sdpa'])} | {frac['sdpa']:.2f} ({best['sdpa']:.2f}) | 1.00 "
        f"| {recall['max_abs_diff']['sdpa']:.1e} |",
        f"| plain torch (mm, softmax, mm) | {_ms(t['plain'])} | {frac['plain']:.2f} ({best['plain']:.2f}) "
        f"| {recall['plain_vs_sdpa']:.2f} | 0 |",
        f"| polynomial DAM step (n=3) | {_ms(t['dense'])} | {frac['dense']:.2f} ({best['dense']:.2f}) | – | – |",
        f"| GEMM pair (S Ξᵀ, A Ξ) | {_ms(t['gemm'] + t['gemm_back'])} | 1.00 | – | – |",
        "",
        f"Targets: softmax recall ≥ {TARGET_GEMM_FRACTION:.0%} of the GEMM rate and ≥ {TARGET_SDPA_RATIO:.1f}× SDPA "
        "(quiet machine); DAM step ≥ 90% of the GEMM rate.",
        "",
        f"### Distance recall, same sizes, entries uniform in [0, 1), β={DISTANCE_BETA} for softmax",
        "",
        f"Distance path: {distance['kernel']}; Manhattan similarity vs `torch.cdist(p=1)`: max |Δ| / D = "
        f"{distance['manhattan_max_rel_diff']:.1e}.",
        "",
        "| recall | best time | multiple of one same-shape GEMM (median of same-round ratios) |",
        "|---|---|---|",
    ]
    for key, label in (
        ("manhattan_max", "Manhattan, max separation"),
        ("manhattan_softmax", "Manhattan, softmax separation"),
        ("euclidean_max", "Euclidean, max separation"),
        ("euclidean_softmax", "Euclidean, softmax separation"),
        ("cdist_manhattan", "`torch.cdist(p=1)` alone"),
        ("cdist_euclidean", "`torch.cdist(p=2)`, exact mode, alone"),
    ):
        lines.append(f"| {label} | {_ms(dt[key])} | {mult[key]:.1f}× |")
    lines += [
        f"| GEMM (B, D) × (D, K) | {_ms(dt['gemm'])} | 1.0× |",
        "",
        f"Target: Manhattan recall within {TARGET_DISTANCE_GEMM_MULTIPLE:.0f}× the GEMM time.",
        "",
        *(line for mixer in mixers for line in render_mixer(mixer)),
        "### Asynchronous sweep",
        "",
        f"Hopfield, D={ASYNC_SIZES['dim']}, {ASYNC_SIZES['batch']} states: {_ms(asyn['sweep_s'])} vectorised; the "
        f"per-neuron loop took {asyn['reference_s_subset']:.2f} s on {ASYNC_SIZES['reference_states']} states, "
        f"extrapolated ×{ASYNC_SIZES['batch'] // ASYNC_SIZES['reference_states']} to "
        f"{asyn['reference_s_extrapolated']:.1f} s: **{asyn['speedup']:.0f}×** (target ≥ {TARGET_ASYNC_SPEEDUP:.0f}×).",
        "",
        "### Streamed recall",
        "",
        f"K = {STREAM_SIZES['memories']:,} memories, D = {STREAM_SIZES['dim']}, B = {STREAM_SIZES['batch']} queries "
        "(⅛ of the bits flipped), one thread; peak growth of resident memory during the recall, each run in a "
        "fresh process:",
        "",
        "| recall | chunk | B × chunk × 4 B | peak extra memory | time | memories/s | GFLOP/s | all recalled |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in stream:
        chunk = "– | –" if row["chunk"] is None else f"{row['chunk']:,} | {row['b_times_chunk_mib']:.0f} MiB"
        lines.append(
            f"| {row['kind']} | {chunk} "
            f"| {row['peak_extra_bytes'] / 2**20:.0f} MiB | {row['seconds']:.2f} s | {row['memories_per_s']:.2e} "
            f"| {row['gflops']:.1f} | {row['recalled']} |"
        )
    return lines + [""]


def render_mixer(mixer: dict) -> list[str]:
    t, m = mixer["times"], mixer["sizes"]
    path = "SDPA's fused kernel" if mixer["fused"] else "the explicit form: SDPA has no fused kernel for these widths"
    return [
        f"### E9 softmax token mixer, B={m['batch']}, L={m['length']}, d_key={m['d_key']}, d_value={m['d_value']}, "
        "causal",
        "",
        f"`SoftmaxMemory.parallel` (here {path}) against the explicit matmul-softmax-matmul; max abs diff to float64: "
        f"{mixer['max_abs_diff']:.1e}.",
        "",
        "| pass | mixer | explicit | explicit time / mixer time (median of same-round ratios) |",
        "|---|---|---|---|",
        f"| forward | {_ms(t['mixer'])} | {_ms(t['explicit'])} | {mixer['forward_ratio']:.2f} |",
        f"| forward + backward | {_ms(t['mixer_backward'])} | {_ms(t['explicit_backward'])} "
        f"| {mixer['backward_ratio']:.2f} |",
        "",
    ]


def render_scaling(rows: list[dict], figure: str) -> list[str]:
    lines = [
        "### Scaling",
        "",
        f"Best of 3 interleaved rounds per size (noisier than the sections above). Beyond K = {SCALING_CHUNK:,} the",
        "memories are given a chunk: softmax recall stays on SDPA, which streams by itself on the CPU, and Manhattan",
        "recall streams a running argmax. The GEMM pair's weights are softmax(β S Ξᵀ) at β = 1/√D, the softmax",
        "recall's β (unscaled ±1 logits leave many weights denormal, which slows the second product many times on some",
        "CPUs).",
        "",
        f"![recall time against K and D]({figure})",
        "",
        "| K | D | B | chunk set | softmax recall | SDPA | Manhattan (max) | GEMM pair | GEMM pair / softmax recall |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['memories']:,} | {r['dim']} | {r['batch']} | {'yes' if r['streamed'] else 'no'} "
            f"| {_ms(r['softmax_s'])} | {_ms(r['sdpa_s'])} | {_ms(r['manhattan_s'])} | {_ms(r['gemm_s'])} "
            f"| {r['gemm_s'] / r['softmax_s']:.2f} |"
        )
    return lines + [""]


def render_gpu(name: str, gpu: dict | None) -> list[str]:
    if gpu is None:
        return ["## GPU", "", f"{NO_GPU} (GPU numbers not measured on this machine).", ""]
    lines = [
        f"## {name}",
        "",
        f"Softmax recall, K={GPU_SIZES['memories']}, B={GPU_SIZES['batch']}:",
        "",
        "| D | precision | GEMM TFLOP/s | repository, fraction of GEMM | SDPA, fraction of GEMM "
        "| SDPA time / repository |",
        "|---|---|---|---|---|---|",
    ]
    for r in gpu["recall"]:
        lines.append(
            f"| {r['dim']} | {r['precision']} | {r['gemm_gflops'] / 1e3:.1f} | {r['gemm_fraction']['softmax']:.2f} "
            f"| {r['gemm_fraction']['sdpa']:.2f} | {r['softmax_vs_sdpa']:.2f} |"
        )
    mult, s = gpu["distance"]["gemm_multiple"], gpu["stream"]
    peak = "n/a" if s["peak_extra_bytes"] is None else f"{s['peak_extra_bytes'] / 2**20:.0f} MiB"
    lines += [
        "",
        f"Manhattan recall (max): {mult['manhattan_max']:.1f}× one GEMM; `torch.cdist(p=1)`: "
        f"{mult['cdist_manhattan']:.1f}×.",
        f"Streamed recall over K = {s['memories']:,} (D = 64, chunk {s['chunk']:,}): {s['seconds']:.2f} s, "
        f"{s['memories_per_s']:.2e} memories/s, peak extra memory {peak}, all recalled: {s['recalled']}.",
        f"Asynchronous Hopfield sweep: {_ms(gpu['async_s'])} on the GPU, {_ms(gpu['async_cpu_s'])} on the CPU.",
        "",
    ]
    return lines


HEADER = [
    "# Memory-engine benchmarks",
    "",
    "Written by `hebbdam bench` (src/hebbdam/bench.py); rerun it (`make bench`) to refresh. Every comparison runs",
    "in one process on the same inputs; the functions of a comparison are interleaved and the best of several",
    "repeats is kept, because the CPU may be shared (the load average is given). A softmax step counts 2 matmuls",
    "(4·B·K·D flops); its GEMM rate is that of the step's two matmul shapes (S Ξᵀ and A Ξ) back to back. The",
    "asynchronous sweep, its reference and the streamed recall run single-threaded on CPU (both sides of each ratio).",
    "",
]


def run(out: str | Path = "reports/benchmarks.md") -> str:
    out = Path(out)
    generator = torch.Generator().manual_seed(0)
    cpu = torch.device("cpu")
    start_load = load()
    name = f"CPU: {cpu_name()}, {torch.get_num_threads()} threads (torch {torch.__version__})"
    say(f"bench on {name}, load {start_load}")
    recall = softmax_rows(cpu, generator)
    say(
        f"softmax recall {recall['gemm_fraction']['softmax']:.2f} of GEMM, {recall['softmax_vs_sdpa']:.2f}× SDPA; "
        f"DAM step {recall['gemm_fraction']['dense']:.2f} of GEMM"
    )
    mixers = [mixer_rows(cpu, generator, sizes) for sizes in (MIXER_SIZES, MIXER_EQUAL_SIZES)]
    for mixer in mixers:
        say(
            f"softmax mixer d_key {mixer['sizes']['d_key']}: explicit / mixer {mixer['forward_ratio']:.2f} forward, "
            f"{mixer['backward_ratio']:.2f} with backward"
        )
    fits = fit_rows()
    for case, row in fits.items():
        times = row["ms_per_update"]
        say(
            f"{case} fit: {times['lightning']:.2f} ms/update through Lightning, {times['plain']:.2f} plain: "
            f"{row['ratio']:.2f}×"
        )
    distance = distance_rows(cpu, generator)
    say(f"Manhattan recall (max) {distance['gemm_multiple']['manhattan_max']:.1f}× GEMM ({distance['kernel']})")
    asyn = async_speedup(cpu, generator)
    say(f"async sweep {asyn['speedup']:.0f}× the per-neuron loop")
    stream = stream_memory()
    for row in stream:
        say(f"{row['kind']} recall, chunk {row['chunk']}: peak +{row['peak_extra_bytes'] / 2**20:.0f} MiB")
    rows = scaling(cpu, generator)
    figure = out.parent / "figures" / "bench_scaling.png"
    from .figures import bench_scaling, style

    style.save(bench_scaling.draw(rows), figure)
    lines = HEADER + render_cpu(name, (start_load, load()), recall, mixers, distance, asyn, stream)
    lines += render_fits(fits)
    lines += render_scaling(rows, os.path.relpath(figure, out.parent))
    if torch.cuda.is_available():
        gpu_device = torch.device("cuda")
        gpu_name = f"GPU: {torch.cuda.get_device_name(gpu_device)} (torch {torch.__version__})"
        say(f"bench on {gpu_name}")
        lines += render_gpu(gpu_name, accelerator_section(gpu_device, generator))
    else:
        say(NO_GPU)
        lines += render_gpu("GPU", None)
    text = "\n".join(lines)
    io.write_text(out, text + "\n")
    print(text)
    return text


def main(args) -> None:
    run(getattr(args, "out", None) or "reports/benchmarks.md")
