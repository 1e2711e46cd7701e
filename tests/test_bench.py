"""``hebbdam bench`` sections on tiny sizes: every row is measured and rendered, the GPU section's code runs on the
CPU, and the recall each section times is the recall it claims (no timing is asserted: that would test the runner)."""

from __future__ import annotations

import torch

from hebbdam import bench
from hebbdam.figures import bench_scaling

TINY = {"memories": 300, "dim": 40, "batch": 16}


def test_softmax_rows_compare_the_same_recall():
    rows = bench.softmax_rows(torch.device("cpu"), torch.Generator().manual_seed(0), TINY, repeats=1)
    assert set(rows["gemm_fraction"]) == {"softmax", "sdpa", "plain", "dense"}
    assert rows["max_abs_diff"]["softmax"] < 1e-5 and rows["max_abs_diff"]["sdpa"] < 1e-5
    assert rows["gemm_gflops"] > 0 and rows["softmax_vs_sdpa"] > 0


def test_mixer_rows_time_the_e9_mixer_against_its_explicit_form_and_render():
    sizes = {"batch": 2, "length": 12, "d_key": 8, "d_value": 4}
    rows = bench.mixer_rows(torch.device("cpu"), torch.Generator().manual_seed(0), sizes, repeats=1)
    assert rows["max_abs_diff"] < 1e-5
    assert rows["forward_ratio"] > 0 and rows["backward_ratio"] > 0
    assert set(rows["times"]) == {"mixer", "explicit", "mixer_backward", "explicit_backward"}
    assert not rows["fused"]  # unequal widths, like E9's: the mixer takes the explicit form
    assert "| forward + backward |" in "\n".join(bench.render_mixer(rows))
    assert bench.mixer_rows(torch.device("cpu"), torch.Generator().manual_seed(0), sizes | {"d_value": 8}, 1)["fused"]
    assert bench.MIXER_SIZES["d_key"] == 16 and bench.MIXER_SIZES["d_value"] == 64  # E9's shapes


def test_distance_rows_check_the_kernel_against_cdist():
    rows = bench.distance_rows(torch.device("cpu"), torch.Generator().manual_seed(0), TINY, repeats=1)
    assert rows["manhattan_max_rel_diff"] < 1e-6
    assert {"manhattan_max", "manhattan_softmax", "euclidean_max", "cdist_manhattan"} <= set(rows["gemm_multiple"])


def test_accelerator_section_runs_on_the_cpu_and_renders():
    tiny_async = {"dim": 20, "batch": 4, "patterns": 3, "reference_states": 1}
    sizes = {"dims": (8, 16), "memories": 200, "batch": 8, "stream_memories": 5000, "async": tiny_async}
    section = bench.accelerator_section(torch.device("cpu"), torch.Generator().manual_seed(0), sizes)
    assert [(r["dim"], r["precision"]) for r in section["recall"]] == [
        (d, p) for d in (8, 16) for p in bench.GPU_PRECISIONS
    ]
    assert section["stream"]["recalled"] and section["stream"]["memories"] == 5000
    text = "\n".join(bench.render_gpu("GPU: test", section))
    assert "| 16 | bfloat16 |" in text and "Streamed recall over K = 5,000" in text
    assert bench.NO_GPU in "\n".join(bench.render_gpu("GPU", None))


def test_scaling_rows_draw_the_figure(tmp_path):
    rows = bench.scaling(
        torch.device("cpu"),
        torch.Generator().manual_seed(0),
        {"memories": (100, 1000), "dim": 8, "batch": 4},
        {"dims": (8, 16), "memories": 200, "batch": 4},
    )
    assert [r["axis"] for r in rows] == ["memories", "memories", "dim", "dim"]
    assert all(r[key] > 0 for r in rows for key in ("softmax_s", "sdpa_s", "manhattan_s", "gemm_s"))
    assert "| 1,000 | 8 | 4 | no |" in "\n".join(bench.render_scaling(rows, "figures/bench_scaling.png"))
    figure = bench_scaling.draw(rows)
    assert len(figure.axes) == 2 and all(len(ax.lines) == 4 for ax in figure.axes)


def test_fit_rows_time_lightning_against_the_plain_loop_and_render():
    sizes = {
        "images": {"memories": 4, "dim": 16, "patterns": 8, "batch": 8, "per_epoch": 3, "updates": 6},
        "patterns": {"memories": 4, "dim": 16, "patterns": 6, "batch": 4, "updates": 6},
        "hebbian": {"memories": 16, "dim": 16, "patterns": 6, "batch": 3, "updates": 2},
    }
    rows = bench.fit_rows(sizes, repeats=1)
    assert set(rows) == {"images", "patterns", "hebbian"}
    for row in rows.values():
        assert set(row["ms_per_update"]) == {"lightning", "plain"} and row["ratio"] > 0
    text = "\n".join(bench.render_fits(rows))
    assert "| E8b completion (full batch) | 4 | 16 | 8 | 8 | 6 |" in text and "| E8a denoising |" in text
    assert "| E8a Storkey write | — | 16 | 6 | 3 | 2 |" in text
