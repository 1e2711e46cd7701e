"""The pipeline's one source of truth: every DVC stage, what it runs, reads and writes.

``dvc.yaml`` is generated from this table (``hebbdam dvc-yaml``; a test fails when the committed file differs), and
so are the command table of ``hebbdam``, the figures the ``figures`` stage draws and the inputs of ``figures`` and
``report``. A stage's code dependencies are the import closure of its module (:mod:`hebbdam.closure`), never a list
typed by hand, so a file a stage imports cannot be left out.

Adding an experiment: its settings schema under ``settings/`` and its module under ``experiments/`` (a
``main(args)``), one :class:`Stage` entry below, its figure module under ``figures/``, its test, and its config
``conf/experiment/<name>.yaml`` with its ci and paper sizes beside it in ``conf/experiment/<name>/{ci,paper}.yaml``
(plus one defaults line in ``conf/config.yaml``). Then ``make stages`` rewrites dvc.yaml and params.yaml.
"""

from __future__ import annotations

from dataclasses import dataclass, field

METRICS_DIR = "reports/metrics"
FIGURES_DIR = "reports/figures"


@dataclass(frozen=True)
class Pipeline:
    """One DVC project of the repository, running every stage of the table below on its own params and outputs.

    ``project`` is the folder that holds its ``dvc.yaml``, ``params.yaml``, ``dvc.lock`` and ``.dvc/`` ("" for the
    repository root); ``config`` the primary config under ``conf/`` that composes its params.yaml; ``selection`` the
    name of its kept selection (``conf/selection/<name>.yaml``, :mod:`hebbdam.selection`); ``reports`` the folder of
    its results and ``data`` its data root (DVC keeps a project's outputs inside the project). The paper pipeline is
    a DVC project of its own (``dvc init --subdir``), so the root's ``dvc repro``, ``dvc status``, ``dvc exp run`` and
    ``dvc plots show`` never see it, and reproducing one pipeline never touches the other's files.
    """

    name: str
    project: str
    config: str
    selection: str
    reports: str
    data: str

    @property
    def metrics_dir(self) -> str:
        return f"{self.reports}/metrics"

    @property
    def figures_dir(self) -> str:
        return f"{self.reports}/figures"

    @property
    def params_file(self) -> str:
        return f"{self.project}/params.yaml" if self.project else "params.yaml"

    @property
    def dvc_yaml(self) -> str:
        return f"{self.project}/dvc.yaml" if self.project else "dvc.yaml"


ROOT = Pipeline("root", "", config="config", selection="current", reports="reports", data="data")
PAPER = Pipeline(
    "paper", "reports/paper", config="paper", selection="paper", reports="reports/paper", data="reports/paper/data"
)
PIPELINES: tuple[Pipeline, ...] = (ROOT, PAPER)


def pipeline_named(name: str) -> Pipeline:
    for pipeline in PIPELINES:
        if pipeline.name == name:
            return pipeline
    raise KeyError(name)


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

    ``command`` is the ``hebbdam`` subcommand and ``module:function`` the code it runs; ``records`` are its metrics
    files (the first is the gated record), ``curves`` its plot files (both under reports/metrics, committed to git);
    ``figures`` the modules under ``hebbdam.figures`` that draw its PNGs; ``params`` the params.yaml sections it
    reads; ``reads_data`` whether it loads ``data/processed``. ``foreach`` makes a DVC foreach stage whose ``${item}``
    appears in params, records and curves and is passed as the one word after the command.
    """

    name: str
    command: str
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


EXPERIMENT_PARAMS = ("trainer", "seed")  # every experiment stage reads these besides its own section
DATA_PARAMS = ("data.root", "data.binarize_threshold")

DATA_STAGES: tuple[Stage, ...] = (
    Stage(
        name="download",
        command="download",
        entry="hebbdam.data.commands:download",
        help="fetch the downloaded data.sources into data/raw",
        params=("data.sources",),  # mirror and timeout are not tracked: they cannot change verified bytes
        extra={"outs": [{"data/raw": {"persist": True}}]},  # never deleted before a rerun
    ),
    Stage(
        name="prepare",
        command="prepare",
        entry="hebbdam.data.commands:prepare",
        help="data.sources → data/processed/<name>.pt + manifest",
        params=("data.sources", "data.seed", "data.test_fraction", "data.binarize_threshold", "data.synthetic"),
        extra={"deps": ["data/raw"], "outs": ["data/processed"]},
    ),
)

EXPERIMENTS: tuple[Stage, ...] = (
    Stage(
        name="capacity",
        command="capacity",
        entry="hebbdam.experiments.capacity:main",
        help="E1 slice: Hebbian Hopfield vs polynomial DAM capacity",
        params=("capacity",),
        records=("capacity.json",),
        curves=("capacity_curves.json",),
        figures=("capacity",),
        plots=(
            Plot(
                "capacity_retrieval",
                "Capacity: fraction retrieved (overlap ≥ 0.95) against load, per arm and D",
                "capacity_curves.json",
                x="load",
                y="retrieved",
                facet=("arm",),
            ),
        ),
    ),
    Stage(
        name="ladder",
        command="ladder",
        entry="hebbdam.experiments.capacity:ladder_main",
        help="E1 ladder: one family of rules × models",
        params=("ladder.${item}",),
        records=("ladder_${item}.json",),
        curves=("ladder_${item}_curves.json",),
        figures=("ladder",),
        plots=tuple(
            Plot(
                f"ladder_{family}",
                f"Ladder, {family}: fraction retrieved against load",
                f"ladder_{family}_curves.json",
                "load",
                "retrieved",
                facet=("arm",),
            )
            for family in ("pairwise", "dense", "backprop")
        ),
        foreach=("pairwise", "dense", "backprop"),
    ),
    Stage(
        name="appendix_b",
        command="appendix_b",
        entry="hebbdam.experiments.appendix_b:main",
        help="E2: Krotov & Hopfield 2016 Appendix B, random starts",
        params=("appendix_b",),
        records=("appendix_b.json",),
        curves=("appendix_b_curves.json",),
        figures=("appendix_b",),
    ),
    Stage(
        name="sequences",
        command="sequences",
        entry="hebbdam.experiments.sequences:main",
        help="E4: sequence capacity P_T, P_S of SeqNet and DenseNets",
        params=("sequences",),
        records=("sequences.json",),
        curves=("sequences_curves.json",),
        figures=("sequences",),
    ),
    Stage(
        name="retrieval",
        command="retrieval",
        entry="hebbdam.experiments.retrieval:main",
        help="E3: image retrieval, UHN grid vs Hebbian and DAM arms",
        params=("retrieval", "engine", *DATA_PARAMS),
        records=("retrieval.json",),
        curves=("retrieval_curves.json", "retrieval_examples.json"),
        figures=("retrieval", "retrieval_examples"),
        plots=(
            Plot(
                "retrieval",
                "Image retrieval: fraction retrieved against the number stored",
                "retrieval_curves.json",
                x="N",
                y="retrieved",
                facet=("arm",),
            ),
        ),
        reads_data=True,
    ),
    Stage(
        name="generalisation",
        command="generalisation",
        entry="hebbdam.experiments.generalisation:main",
        help="E6: memorised/spurious/generalised against K",
        params=("generalisation", *DATA_PARAMS),
        records=("generalisation.json",),
        curves=("generalisation_curves.json",),
        figures=("generalisation",),
        plots=tuple(
            Plot(f"generalisation_{kind}", f"Fraction {kind} against K", "generalisation_curves.json", "K", kind)
            for kind in ("memorised", "spurious", "generalised")
        ),
        reads_data=True,
    ),
    Stage(
        name="classification",
        command="classification",
        entry="hebbdam.experiments.classification:main",
        help="E5: K&H 2016 dense classifier, four memory arms",
        params=("classification", "data.root"),
        records=("classification.json",),
        curves=("classification_curves.json", "classification_votes.json"),
        figures=("classification",),
        plots=(
            Plot(
                "classification",
                "Classification test error against the number of memories",
                "classification_curves.json",
                x="memories",
                y="test_error",
                facet=("arm", "seed"),
            ),
        ),
        reads_data=True,
    ),
    Stage(
        name="budget_patterns",
        command="budget_patterns",
        entry="hebbdam.experiments.budget_patterns:main",
        help="E8a: random patterns stored per parameter budget, local rules against backprop",
        params=("budget.patterns",),
        records=("budget_patterns.json",),
        curves=("budget_patterns_curves.json",),
        figures=("budget_answer", "budget_patterns"),  # the E8 answer (reads budget_images.json too) opens E8
        plots=(
            Plot(
                "budget_patterns",
                "E8a: fraction recalled exactly against the number of stored patterns",
                "budget_patterns_curves.json",
                x="patterns",
                y="exact",
                series="arm",
                facet=("arm",),
            ),
        ),
    ),
    Stage(
        name="budget_classify",
        command="budget_classify",
        entry="hebbdam.experiments.budget_classify:main",
        help="E8c: frozen K&H 2019 layer with a local or SGD readout against K&H 2016 backprop, same K",
        params=("budget.classify", "data.root"),
        records=("budget_classify.json",),
        curves=("budget_classify_curves.json",),
        figures=("budget_classify",),
        plots=(
            Plot(
                "budget_classify",
                "E8c: test error against K per classifier (one panel per classifier, a line per seed)",
                "budget_classify_curves.json",
                x="K",
                y="test_error",
                series="arm",
                facet=("arm",),
            ),
        ),
        reads_data=True,
    ),
    Stage(
        name="budget_images",
        command="budget_images",
        entry="hebbdam.experiments.budget_images:main",
        help="E8b: real images stored in a K-unit memory per learning rule, stored-set P_0.9 against K, both maskings",
        params=("budget.images", "data.root", "data.binarize_threshold"),
        records=("budget_images.json",),
        curves=("budget_images_curves.json",),
        figures=("budget_images",),
        plots=(
            Plot(
                "budget_images",
                "E8b: fraction of stored images recovered from half-masked queries against P",
                "budget_images_curves.json",
                x="P",
                y="stored",
                facet=("arm", "condition"),
            ),
        ),
        reads_data=True,
    ),
    Stage(
        name="sparse",
        command="sparse",
        entry="hebbdam.experiments.sparse:main",
        help="sparse codes: bits per synapse against coding level (Willshaw, covariance, BCPNN); holographic law",
        params=("sparse",),
        records=("sparse.json",),
        curves=("sparse_curves.json",),
        figures=("sparse",),
        plots=(
            Plot(
                "sparse",
                "Sparse codes: fraction of the P patterns recalled exactly against P, per rule and coding level",
                "sparse_curves.json",
                x="patterns",
                y="exact",
                facet=("arm",),
            ),
        ),
    ),
    Stage(
        name="continual",
        command="continual",
        entry="hebbdam.experiments.continual:main",
        help="E7: tasks learned one after another, backprop DAM with and without rehearsal against Hebbian rules",
        params=("continual",),
        records=("continual.json",),
        curves=("continual_curves.json",),
        figures=("continual",),
        plots=(
            Plot(
                "continual",
                "E7: recall of each task against the number of tasks learned, per arm",
                "continual_curves.json",
                x="after",
                y="recall",
                facet=("arm",),
            ),
        ),
    ),
    Stage(
        name="recall",
        command="recall",
        entry="hebbdam.experiments.recall:main",
        help="E9: in-context associative recall, memories as token mixers (Schlag settings, MQAR)",
        params=("recall",),
        records=("recall.json",),
        curves=("recall_curves.json",),
        figures=("recall",),
        plots=(
            Plot(
                "recall",
                "E9 recall: final loss ½‖ŷ - v‖² against the number of keys N",
                "recall_curves.json",
                x="N",
                y="loss",
                series="series",
            ),
        ),
    ),
)

SUMMARY_STAGES: tuple[Stage, ...] = (
    Stage(
        name="figures",
        command="figures",
        entry="hebbdam.figures:main",
        help="draw every figure from the metrics JSON files",
        params=(),
    ),
    Stage(
        name="report",
        command="report",
        entry="hebbdam.report:main",
        help="reports/README.md: every figure, measured against published",
        params=(),
    ),
)

STAGES: tuple[Stage, ...] = DATA_STAGES + EXPERIMENTS + SUMMARY_STAGES


def experiment_outputs() -> list[str]:
    """Every metrics and curves file the experiment stages write (names under reports/metrics), in stage order."""
    return [name for stage in EXPERIMENTS for name in stage.expanded("records") + stage.expanded("curves")]


def figure_modules() -> list[str]:
    """Figure modules (under hebbdam.figures) in report order."""
    return [name for stage in EXPERIMENTS for name in stage.figures]


def stage_options(stage: Stage, pipeline: Pipeline) -> list[str]:
    """The options that point ``hebbdam <stage>`` at ``pipeline``'s params file and folders (run from the repository
    root): none for the root pipeline, whose files are the commands' defaults."""
    if pipeline is ROOT:
        return []
    options = ["--params", pipeline.params_file]
    if stage in EXPERIMENTS:
        options += ["--out", pipeline.metrics_dir]
    elif stage.name == "figures":
        options += ["--metrics", pipeline.metrics_dir, "--out", pipeline.figures_dir]
    elif stage.name == "report":
        options += ["--metrics", pipeline.metrics_dir, "--out", f"{pipeline.reports}/README.md"]
    return options


def stage_named(name: str) -> Stage:
    for stage in STAGES:
        if stage.name == name:
            return stage
    raise KeyError(name)
