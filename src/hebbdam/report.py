"""``hebbdam report``: reports/README.md and reports/appendix.md, generated from the metrics files and the figure
modules.

README.md reads like a paper's results section: it opens with the answer to the question (the figure module with
``lead(metrics)``: E8), then five headline results, then one section per claim (a figure module's ``CLAIM``), each
with its figure, its whole caption (the first paragraph of the module docstring), at most five key numbers with their
intervals (rows of the module's ``comparisons``, built by :func:`hebbdam.comparison.row`) and one line of caveats
(``CAVEAT``). appendix.md holds each module's detailed tables (``notes`` and ``section``), the full table of measured
against published values with sources, and the provenance. The report names the profile and the sha256 of each
metrics file rather than a git commit, so regenerating it from the same results gives the same bytes (the commit that
produced a file: ``git log -1 -- reports/metrics/<file>``; each W&B run also carries its commit).
"""

from __future__ import annotations

import hashlib
import importlib
import platform
from dataclasses import dataclass
from pathlib import Path

from . import comparison as cmp
from . import io, paper_export
from .figures import FIGURES
from .logs import say
from .stages import PIPELINES


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


KEY_NUMBERS = 5  # numbers a section of the results document shows (the rest are in the appendix)
HEADLINE_RESULTS = 5  # headline results after the answer: the first headline row of each experiment, in order


@dataclass
class Section:
    """One figure module's part of the report: its claim, caption, figure, rows and detailed lines."""

    name: str
    claim: str
    caption: str
    caveat: str
    figure: str
    rows: list[dict]
    details: list[str]
    lead: list[str]


def _section(name: str, metrics_dir: Path, figures_rel: str) -> tuple[Section, list[tuple[str, str, str]]]:
    """The section of figure module ``name`` and its provenance (metrics file, sha256 prefix, profile)."""
    module = importlib.import_module(f"hebbdam.figures.{name}")
    metrics = {file: io.read_json(metrics_dir / file) for file in module.INPUTS}
    details: list[str] = []
    if hasattr(module, "notes"):
        details += module.notes(metrics)
    if hasattr(module, "section"):  # a figure module's own table and statement
        details += [*module.section(metrics), ""]
    provenance = []
    for file in module.INPUTS:
        digest = hashlib.sha256((metrics_dir / file).read_bytes()).hexdigest()[:16]
        record = metrics[file]
        provenance.append((file, digest, record.get("profile", "") if isinstance(record, dict) else ""))
    section = Section(
        name=name,
        claim=getattr(module, "CLAIM", name),
        caption=caption(module.__doc__ or name),
        caveat=getattr(module, "CAVEAT", ""),
        figure=f"{figures_rel}/{module.OUTPUT}",
        rows=module.comparisons(metrics) if hasattr(module, "comparisons") else [],
        details=details,
        lead=[*module.lead(metrics), ""] if hasattr(module, "lead") else [],
    )
    return section, provenance


def key_rows(rows: list[dict], count: int = KEY_NUMBERS) -> list[dict]:
    """The rows a section shows: headline interval tests first, then other rows with an interval or a band, then the
    rest, in the figure module's order; at most ``count``."""

    def rank(row: dict) -> tuple[int, bool]:
        comparable = cmp.kind(row.get("verdict", "unstated")) != cmp.NOT_COMPARABLE
        if row.get("headline") and cmp.headline_worthy(row):
            return (0, not comparable)
        return (1 if row.get("interval") is not None or row.get("band") is not None else 2, not comparable)

    return sorted(rows, key=rank)[:count]


def number_line(row: dict) -> str:
    """'quantity: **measured [low, high]** against published (source): *verdict*' (one bullet of key numbers)."""
    return f"{row['quantity']}: **{_measured(row)}** against {_published(row)}: *{row.get('verdict', 'unstated')}*"


def headline_results(sections: list[Section], count: int = HEADLINE_RESULTS) -> list[dict]:
    """The first headline interval test of each experiment other than the answer, in report order; at most ``count``."""
    chosen = []
    for section in sections:
        first = next((row for row in section.rows if row.get("headline") and cmp.headline_worthy(row)), None)
        if first is not None and not section.lead:
            chosen.append(first)
    return chosen[:count]


def build(metrics_dir: Path, figures_rel: str = "figures") -> str:
    """The text of reports/README.md."""
    return build_documents(metrics_dir, figures_rel)[0]


def build_with_rows(metrics_dir: Path, figures_rel: str = "figures") -> tuple[str, list[dict]]:
    """The report's text and its headline rows (which :mod:`hebbdam.paper_export` also writes as LaTeX and CSV)."""
    text, _, headline = build_documents(metrics_dir, figures_rel)
    return text, headline


def build_documents(metrics_dir: Path, figures_rel: str = "figures") -> tuple[str, str, list[dict]]:
    """reports/README.md (a results section: the answer, five headline results, one section per claim),
    reports/appendix.md (each section's detailed tables, every measured-against-published row with its source, the
    provenance) and the headline rows."""
    sections: list[Section] = []
    provenance: list[tuple[str, str, str]] = []
    for name in FIGURES:
        section, files = _section(name, metrics_dir, figures_rel)
        sections.append(section)
        provenance += files
    rows = [row for section in sections for row in section.rows]
    headline = [row for row in rows if row.get("headline") and cmp.headline_worthy(row)]
    profiles = sorted({profile for _, _, profile in provenance} - {""})
    return (
        _results(sections, rows, profiles, metrics_dir),
        _appendix(sections, rows, provenance, profiles, metrics_dir),
        headline,
    )


def _figure(number: int, section: Section) -> list[str]:
    return [f"![{section.name}]({section.figure})", "", f"*Figure {number}.* {section.caption}", ""]


def _caveat(section: Section) -> list[str]:
    return [f"*Caveat.* {section.caveat}", ""] if section.caveat else []


def _results(sections: list[Section], rows: list[dict], profiles: list[str], metrics_dir: Path) -> str:
    answers = [section for section in sections if section.lead]
    claims = [section for section in sections if not section.lead]
    lines = [
        "# hebbdam results",
        "",
        f"Generated by `hebbdam report` (the `report` stage of `{_pipeline_file(metrics_dir)}`) from "
        f"`{metrics_dir.as_posix()}/`, profile "
        f"**{', '.join(profiles) or 'unknown'}**. Do not edit by hand. Each section's detailed tables, every "
        "measured-against-published row with its source, and the provenance are in [appendix.md](appendix.md).",
        "",
    ]
    number = 0
    for section in answers:
        number += 1
        lines += [f"## {section.claim}", "", *section.lead, *_figure(number, section), *_caveat(section)]
    lines += [
        "## Headline numbers",
        "",
        "Five headline results (the first interval test or labelled direction of "
        "each experiment; the full list is in the appendix and in `headline.csv` / `headline.tex`):",
        "",
    ]
    lines += [f"{index}. {number_line(row)}" for index, row in enumerate(headline_results(claims), 1)]
    lines += [""]
    for section in claims:
        number += 1
        lines += [f"## {section.claim}", "", *_figure(number, section)]
        shown = key_rows(section.rows)
        if shown:
            lines += ["Key numbers:", "", *(f"- {number_line(row)}" for row in shown), ""]
        lines += _caveat(section)
        lines += [f"Details: [appendix](appendix.md), section `{section.name}`.", ""]
    lines += [
        "## Verdicts",
        "",
        f"Over the {len(rows)} rows measured against published values: {verdict_counts(rows)}. {VOCABULARY}",
        "",
    ]
    return "\n".join(lines)


VOCABULARY = (
    "Verdicts: *reproduced* only when the published value lies inside the measured 95% interval or the measurement "
    "inside the paper's stated band; *direction reproduced* for sign-only or qualitative claims (the magnitude beside "
    "the paper's words); *consistent (our tolerance …)* where only a tolerance we chose decides; *censored* at a grid "
    "edge; *not comparable* where the conditions differ; *inconclusive* where the measurement's intervals cannot "
    "tell; *not reproduced* otherwise."
)


def _pipeline_file(metrics_dir: Path) -> str:
    """The dvc.yaml whose report stage reads ``metrics_dir`` (``reports/paper/metrics``: the paper pipeline's)."""
    for pipeline in PIPELINES:
        if Path(pipeline.metrics_dir) == metrics_dir:
            return pipeline.dvc_yaml
    return "dvc.yaml"


def _appendix(
    sections: list[Section],
    rows: list[dict],
    provenance: list[tuple[str, str, str]],
    profiles: list[str],
    metrics_dir: Path,
) -> str:
    lines = [
        "# hebbdam results: appendix",
        "",
        "Generated by `hebbdam report` with [README.md](README.md). Do not edit by hand.",
        "",
    ]
    for section in sections:
        if section.details:
            lines += [f"## {section.name}: {section.claim}", "", *section.details]
    lines += [
        "## Measured against published",
        "",
        "Each row names its criterion; where the paper's differs from ours it says both and the verdict is *not "
        "comparable*. Fractions and fits carry a 95% interval. A quantity no paper states says *no published value*. "
        f"{VOCABULARY} Counts: {verdict_counts(rows)}.",
        "",
        *table(rows),
        "",
        "## Provenance",
        "",
        f"Profile: **{', '.join(profiles) or 'unknown'}**. Libraries: {library_versions()} "
        "(`requirements.lock` pins them; `make` installs from it). "
        "Metrics files (sha256, first 16 hex digits); the commit that produced one: "
        f"`git log -1 -- {metrics_dir.as_posix()}/<file>`.",
        "",
        "| file | sha256 |",
        "|---|---|",
        *(f"| `{file}` | `{digest}` |" for file, digest, _ in provenance),
        "",
    ]
    return "\n".join(lines)


def main(args) -> None:
    metrics_dir = Path(args.metrics or "reports/metrics")
    out = Path(args.out or "reports/README.md")
    text, appendix, headline = build_documents(metrics_dir, figures_rel="figures")
    io.write_text(out, text)
    io.write_text(out.parent / "appendix.md", appendix)
    say(f"report: wrote {out} and {out.parent / 'appendix.md'}")
    for path in paper_export.write(out.parent, metrics_dir / "headline", headline):
        say(f"report: wrote {path}")
