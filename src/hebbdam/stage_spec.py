"""What a DVC stage is: the declarations an experiment's settings module writes its stage with (torch-free, no
other hebbdam import), collected by :mod:`hebbdam.stages` into the pipeline's table.

An experiment declares its own stage beside its settings schema (``STAGES = (Stage(...),)`` in
``hebbdam.settings.<name>``), so adding one edits no shared table; this module holds only the record types, so an
experiment's code depends on them and not on the table (a change to :mod:`hebbdam.stages` reruns no experiment).
"""

from __future__ import annotations

from dataclasses import dataclass, field

DATA_PARAMS = ("data.root", "data.binarize_threshold")  # the data keys of the stages that load data/processed


@dataclass(frozen=True)
class Plot:
    """A ``dvc plots`` definition over one curves file: one line per ``series`` value (long-format rows) and
    revision. The stage writes each row's line name into its ``series`` field (``experiments.common.Curves``); the
    ``series`` template (.dvc/plots/series.json) colours by that field and dashes by revision. ``facet``: up to two
    row fields that split the plot into panels (columns by the first, rows by the second), so no panel draws more
    lines than a palette tells apart (about 10); the template is then ``series_by_<fields>``, which ``hebbdam
    dvc-yaml`` writes beside series.json."""

    name: str
    title: str
    file: str  # under reports/metrics
    x: str
    y: str
    series: str | None = "series"
    facet: tuple[str, ...] = ()

    @property
    def template(self) -> str:
        return "_".join(["series", *(["by", *self.facet] if self.facet else [])])


@dataclass(frozen=True)
class Stage:
    """One DVC stage.

    ``name`` is also its ``hebbdam`` subcommand (:attr:`command`) and ``entry`` (``module:function``) the code it
    runs; ``records`` are its metrics files (the first is the gated record), ``curves`` its plot files (both under
    reports/metrics, committed to git);
    ``figures`` the modules under ``hebbdam.figures`` that draw its PNGs; ``params`` the params.yaml sections it
    reads; ``reads_data`` whether it loads ``data/processed``. ``foreach`` makes a DVC foreach stage whose ``${item}``
    appears in params, records and curves and is passed as the one word after the command. ``position`` orders the
    experiments (an experiment declares its stage in its settings module, :mod:`hebbdam.stages` collects them).
    """

    name: str
    entry: str  # "module:function"
    help: str
    params: tuple[str, ...]
    records: tuple[str, ...] = ()
    curves: tuple[str, ...] = ()
    figures: tuple[str, ...] = ()
    plots: tuple[Plot, ...] = ()
    reads_data: bool = False
    foreach: tuple[str, ...] = ()
    extra: dict = field(default_factory=dict)  # stage-specific dvc.yaml keys (data stages' outs)
    position: int = 0  # an experiment's place among the experiments: dvc.yaml's order, the figures', the report's

    @property
    def command(self) -> str:
        """The ``hebbdam`` subcommand that runs the stage: its name (``hebbdam <name>``)."""
        return self.name

    @property
    def headlines(self) -> list[str]:
        """The headline metrics file of each record (``headline/<record>``): the few numbers a reader compares."""
        return [f"headline/{name}" for name in self.records]

    @property
    def module(self) -> str:
        return self.entry.split(":")[0]

    def expanded(self, field_name: str) -> list[str]:
        """Records or curves with ``${item}`` expanded over ``foreach`` (the files DVC will see)."""
        values = getattr(self, field_name)
        if not self.foreach:
            return list(values)
        return [v.replace("${item}", item) for item in self.foreach for v in values]
