"""One machine standing for many: the exact quantities of ±1 models are byte-identical under every x86 instruction set
and thread count this CPU can emulate.

Each probe is a subprocess that runs small E1 capacity arms, E4 sequence capacities and E2 relaxations (composed
from the real ``conf/``) and the synchronous fields of the ±1 models (Hebbian Hopfield, covariance with its
threshold, polynomial and exponential DAMs, sequence memories, simplicial couplings), and prints a JSON record.
PyTorch's own kernels are forced to an instruction set with ``ATEN_CPU_CAPABILITY`` (default = no vector extensions,
avx2, avx512), MKL's with ``MKL_ENABLE_INSTRUCTIONS`` and oneDNN's with ``ONEDNN_MAX_CPU_ISA``; the intra-op thread
count is 1 or 2. A float32
sum of non-integer weights rounds differently under each vector width, so before the exact paths a tied field came
out as ±1e-8 and the records differed (on main: capacity curves, E4 capacities and a sequence field).

Run a probe by hand: ``python tests/test_cross_isa.py PARAMS THREADS`` (PYTHONPATH picks the source tree).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]

# small arms of the real capacity config: loads around the fixed-point and critical loads, even D (ties are
# frequent: Σ_j ξ_j ξ_j' σ_j is even), biased patterns with and without the covariance threshold, the n = 3 DAM
PROBE_OVERRIDES = [
    "capacity.trials=2",
    "capacity.arms.hebb_async.dims=[100]",
    "capacity.arms.hebb_async.loads=[0.06,0.12,0.16]",
    "capacity.arms.hebb_sync.dims=[100]",
    "capacity.arms.hebb_sync.loads=[0.06,0.12,0.16]",
    "capacity.arms.dam3_async.dims=[20]",
    "capacity.arms.dam3_async.loads=[2,4,6]",
    *(
        f"capacity.arms.{arm}.{key}"
        for arm in ("hebb_biased", "covariance_centred_biased", "covariance_biased")
        for key in ("dims=[120]", "loads=[0.03,0.06,0.12]")
    ),
    # E4 on random sequences at small D (every transfer: linear, polynomial, exponential) and E2 at D = 20
    "sequences.trials=2",
    "sequences.probes=16",
    "sequences.models.seqnet.dims=[30]",
    "sequences.models.poly2.dims=[15]",
    "sequences.models.poly3.dims=[10]",
    "sequences.models.poly4.dims=[8]",
    "sequences.models.exp.dims=[6,8]",
    "appendix_b.dim=20",
    "appendix_b.memories=120",
    "appendix_b.starts=8",
    "appendix_b.half.dims=[10,12]",
    "appendix_b.half.trials=2",
    "appendix_b.half.starts=8",
]

# (ATEN_CPU_CAPABILITY, MKL_ENABLE_INSTRUCTIONS, ONEDNN_MAX_CPU_ISA) per instruction set
ISAS = {
    "default": ("default", "SSE4_2", "SSE41"),
    "avx2": ("avx2", "AVX2", "AVX2"),
    "avx512": ("avx512", "AVX512", "AVX512_CORE"),
}


def cpu_flags() -> set[str]:
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8")
    except OSError:
        return set()
    line = next((row for row in text.splitlines() if row.startswith("flags")), "")
    return set(line.split(":", 1)[-1].split())


def available_isas() -> list[str]:
    flags = cpu_flags()
    names = ["default"]
    if "avx2" in flags:
        names.append("avx2")
    if "avx512f" in flags:
        names.append("avx512")
    return names


def probe_record(params_path: str) -> dict:
    """What one probe prints: the capacity records and the sign of every field of a few ±1 models."""
    import torch
    import yaml

    from hebbdam.config import Params
    from hebbdam.experiments import appendix_b, capacity, sequences
    from hebbdam.memory import DenseAM, Exponential, Hopfield, Power, SequenceMemory, SimplicialMemory
    from hebbdam.memory.simplicial import random_complex
    from hebbdam.rules import get_rule
    from hebbdam.rules.dense import simplex_write

    params = Params(yaml.safe_load(Path(params_path).read_text()))
    summary, curves = capacity.run(capacity.parse_settings(params, "capacity"))
    stages = {
        "sequences": sequences.scan_dimensions(sequences.parse_settings(params)),
        "appendix_b": appendix_b.run(appendix_b.parse_settings(params)),
    }
    generator = torch.Generator().manual_seed(27)
    patterns = torch.randint(0, 2, (30, 200), generator=generator).float() * 2 - 1
    states = torch.randint(0, 2, (64, 200), generator=generator).float() * 2 - 1
    biased = torch.where(torch.rand(30, 200, generator=generator) < 0.65, 1.0, -1.0)
    models = {
        "hebb": Hopfield(get_rule("hebb").fit(patterns)),
        "covariance": Hopfield(get_rule("covariance", mean=0.3).fit(biased), -0.3 * (1 - 0.09)),
        "dam3": DenseAM(patterns[:, :40], Power(3)),
        "seq_poly2": SequenceMemory(patterns[:, :50], kind="polynomial", degree=2),
        "seq_linear": SequenceMemory(patterns, kind="linear"),
        "dam_exp": DenseAM(patterns[:, :20], Exponential(20.0)),
        "seq_exp": SequenceMemory(patterns[:, :12], kind="exponential"),
    }
    simplices = random_complex(200, 3000, 0, (2, 3, 4), (0.3, 0.4, 0.3))  # setwise Hebbian couplings: integers
    models["simplicial"] = SimplicialMemory(simplices, simplex_write(simplices, torch.zeros(3000), patterns), 200)
    signs = {}
    for name, memory in models.items():
        field = memory.field(states[:, : memory.dim])
        signs[name] = torch.sign(field).to(torch.int8).flatten().tolist()
    return {"capacity": summary, "curves": curves, **stages, "field_signs": signs}


def run_probe(params: Path, isa: str, threads: int, source: Path) -> str:
    aten, mkl, onednn = ISAS[isa]
    env = {
        **os.environ,
        "PYTHONPATH": str(source),
        "ATEN_CPU_CAPABILITY": aten,
        "MKL_ENABLE_INSTRUCTIONS": mkl,
        "ONEDNN_MAX_CPU_ISA": onednn,
        "OMP_NUM_THREADS": str(threads),
        "MKL_NUM_THREADS": str(threads),
        "WANDB_MODE": "disabled",
    }
    done = subprocess.run(
        [sys.executable, __file__, str(params), str(threads)],
        env=env,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, f"probe {isa}/{threads} failed:\n{done.stderr[-3000:]}"
    return done.stdout


@pytest.mark.slow
def test_exact_quantities_are_identical_across_instruction_sets_and_threads(tmp_path):
    """Every exact quantity (capacity records, curves, field signs) is byte-identical under each instruction set this
    CPU supports and under 1 and 2 threads. Set HEBBDAM_PROBE_SOURCE to probe another source tree (e.g. main)."""
    from .conftest import compose_file

    params = compose_file(tmp_path / "params.yaml", PROBE_OVERRIDES)
    source = Path(os.environ.get("HEBBDAM_PROBE_SOURCE", REPO_ROOT / "src"))
    isas = available_isas()
    runs = {(isa, 1): run_probe(params, isa, 1, source) for isa in isas}
    runs[(isas[-1], 2)] = run_probe(params, isas[-1], 2, source)
    reference_key = ("default", 1)
    reference = runs[reference_key]
    assert json.loads(reference)["capacity"], "the probe measured nothing"
    differ = [key for key, text in runs.items() if text != reference]
    if differ:
        details = []
        for key in differ:
            ours, theirs = json.loads(runs[key]), json.loads(reference)
            parts = [part for part in ours if ours[part] != theirs[part]]
            fields = [name for name in ours["field_signs"] if ours["field_signs"][name] != theirs["field_signs"][name]]
            details.append(f"{key}: differs from {reference_key} in {parts} (fields: {fields})")
        pytest.fail("records depend on the CPU:\n" + "\n".join(details))


if __name__ == "__main__":
    import torch

    torch.set_num_threads(int(sys.argv[2]))
    print(json.dumps(probe_record(sys.argv[1]), sort_keys=True))
