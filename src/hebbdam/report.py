"""``hebbdam report``: reports/README.md, generated from the metrics files and the figure modules.

The headline rows, every figure, then one table of measured against published values (rows from each figure
module's ``comparisons``, built by :func:`hebbdam.comparison.row`: criterion on both sides, measured with its interval,
published value and source, verdict), then provenance. The
report names the profile and the sha256 of each metrics file rather than a git commit, so regenerating it from the
same results gives the same bytes (the commit that produced a file: ``git log -1 -- reports/metrics/<file>``; each
W&B run also carries its commit). A figure module with ``section(metrics)`` adds its own lines under its figure;
one with ``lead(metrics)`` opens the headline with its lines (the E8 answer).
"""

from __future__ import annotations

import hashlib
import importlib
import platform
from pathlib import Path

from . import comparison as cmp
from . import io, paper_export
from .figures import FIGURES
from .logs import say


def _fmt(value) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _measured(row: dict) -> str:
    interval = row.get("interval")
    text = _fmt(row.get("measured"))
    return text if not interval else f"{text} [{_fmt(interval[0])}, {_fmt(interval[1])}]"


def _criterion(row: dict) -> str:
    ours, theirs = row.get("criterion", "—"), row.get("published_criterion")
    return ours if theirs is None or theirs == ours else f"ours: {ours}; published: {theirs}"


def _published(row: dict) -> str:
    source, band = row.get("source", ""), row.get("band")
    text = _fmt(row.get("published")) + (f" [band {_fmt(band[0])}–{_fmt(band[1])}]" if band else "")
    return text + (f" ({source})" if source else "")


def table(rows: list[dict]) -> list[str]:
    """Markdown rows: quantity, criterion on both sides, measured [95% interval], published (source), verdict."""
    lines = [
        "| quantity | criterion (both sides unless stated) | measured [95% interval] | published (source) | verdict "
        "| note |",
        "|---|---|---|---|---|---|",
    ]
    for row in rows:
        cells = (row["quantity"], _criterion(row), _measured(row), _published(row), row.get("verdict", "unstated"))
        lines.append("| " + " | ".join(_cell(cell) for cell in (*cells, row.get("note", ""))) + " |")
    return lines


def _cell(text: object) -> str:
    """A table cell: a '|' inside it (|c − t|, a norm) is escaped, so it does not split the row."""
    return str(text).replace("|", "\\|")


def caption(docstring: str) -> str:
    """A figure's caption: the first paragraph of its module docstring, its wrapped lines joined (never cut)."""
    return " ".join(docstring.strip().split("\n\n", 1)[0].split())


def verdict_counts(rows: list[dict]) -> str:
    """ "12 reproduced, 3 consistent (our tolerance), …": rows per verdict word, in the vocabulary's order."""
    counts = dict.fromkeys(cmp.VERDICTS, 0)
    for row in rows:
        word = cmp.kind(row.get("verdict", "unstated"))
        counts[word] = counts.get(word, 0) + 1
    label = {cmp.CONSISTENT: "consistent (our tolerance)"}
    return ", ".join(f"{n} {label.get(word, word)}" for word, n in counts.items() if n)


VERSIONED = ("torch", "pytorch-lightning", "numpy", "scipy", "scikit-learn", "matplotlib", "hydra-core", "dvc", "wandb")


def library_versions() -> str:
    """'python 3.11.9, torch 2.14.1, …': what made the report (a float result may move with a library's version)."""
    from importlib.metadata import PackageNotFoundError, version

    parts = [f"python {platform.python_version()}"]
    for name in VERSIONED:
        try:
            parts.append(f"{name} {version(name)}")
        except PackageNotFoundError:
            parts.append(f"{name} (not installed)")
    return ", ".join(parts)


def build(metrics_dir: Path, figures_rel: str = "figures") -> str:
    """The text of reports/README.md."""
    return build_with_rows(metrics_dir, figures_rel)[0]


def build_with_rows(metrics_dir: Path, figures_rel: str = "figures") -> tuple[str, list[dict]]:
    """The report's text and its headline rows (which :mod:`hebbdam.paper_export` also writes as LaTeX and CSV)."""
    sections, rows, provenance, profiles, leads = [], [], [], set(), []
    for name in FIGURES:
        module = importlib.import_module(f"hebbdam.figures.{name}")
        metrics = {file: io.read_json(metrics_dir / file) for file in module.INPUTS}
        title = caption(module.__doc__ or name)
        sections += [f"## {name}", "", title, "", f"![{name}]({figures_rel}/{module.OUTPUT})", ""]
        if hasattr(module, "notes"):
            sections += module.notes(metrics)
        if hasattr(module, "section"):  # a figure module's own table and statement under its figure
            sections += [*module.section(metrics), ""]
        if hasattr(module, "comparisons"):
            rows += module.comparisons(metrics)
        if hasattr(module, "lead"):  # a generated answer that opens the headline (E8)
            leads += [*module.lead(metrics), ""]
        for file in module.INPUTS:
            digest = hashlib.sha256((metrics_dir / file).read_bytes()).hexdigest()[:16]
            provenance.append(f"| `{file}` | `{digest}` |")
            record = metrics[file]
            if isinstance(record, dict) and "profile" in record:
                profiles.add(record["profile"])
    headline = [row for row in rows if row.get("headline") and cmp.headline_worthy(row)]
    lines = [
        "# hebbdam results",
        "",
        "Generated by `hebbdam report` (the `report` stage of `dvc.yaml`) from",
        f"`{metrics_dir.as_posix()}/`. Do not edit by hand.",
        "",
        "## Headline numbers",
        "",
        *leads,
        "The rows of the full table below that the repository README points to: interval tests (a 95% interval or "
        "the paper's band) and labelled directions only.",
        "",
        *table(headline),
        "",
        *sections,
        "## Measured against published",
        "",
        "Each row names its criterion; where the paper's differs from ours it says both and the verdict is *not "
        "comparable*. Fractions and fits carry a 95% interval. A quantity no paper states says *no published value*. "
        "Verdicts: *reproduced* only when the published value lies inside the measured 95% interval or the "
        "measurement inside the paper's stated band; *direction reproduced* for sign-only or qualitative claims (the "
        "magnitude beside the paper's words); *consistent (our tolerance …)* where only a tolerance we chose decides; "
        "*censored* at a grid edge; *not comparable* where the conditions differ; *inconclusive* where the "
        "measurement's intervals cannot tell; *not reproduced* otherwise. "
        f"Counts: {verdict_counts(rows)}.",
        "",
        *table(rows),
        "",
        "## Provenance",
        "",
        f"Profile: **{', '.join(sorted(profiles)) or 'unknown'}**. Libraries: {library_versions()} "
        "(`requirements.lock` pins them; `make` installs from it). "
        "Metrics files (sha256, first 16 hex digits); the commit that produced one: "
        "`git log -1 -- reports/metrics/<file>`.",
        "",
        "| file | sha256 |",
        "|---|---|",
        *provenance,
        "",
    ]
    return "\n".join(lines), headline


def main(args) -> None:
    metrics_dir = Path(args.metrics or "reports/metrics")
    out = Path(args.out or "reports/README.md")
    text, headline = build_with_rows(metrics_dir, figures_rel="figures")
    io.write_text(out, text)
    say(f"report: wrote {out}")
    for path in paper_export.write(out.parent, metrics_dir / "headline", headline):
        say(f"report: wrote {path}")
