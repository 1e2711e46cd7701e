"""``hebbdam <command>``: the commands ``dvc.yaml`` runs, plus composing params and the CI regression gate.

Every command reads ``params.yaml`` (``--params`` to use another file). A problem the user can fix ends with one
line ``hebbdam: error: …`` on stderr and exit code 2; outputs are written atomically, so nothing is half-written.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from .errors import HebbdamError

# command → (module, function, help). Each function takes the parsed argparse namespace.
COMMANDS: dict[str, tuple[str, str, str]] = {
    "compose": ("hebbdam.commands", "compose", "compose conf/ (with Hydra overrides) into params.yaml"),
    "capacity": (
        "hebbdam.experiments.capacity",
        "main",
        "E1 slice: Hebbian Hopfield vs polynomial DAM capacity",
    ),
    "figures": ("hebbdam.figures", "main", "draw every figure from the metrics JSON files"),
    "gate": ("hebbdam.gate", "main", "compare metrics with a committed baseline within tolerances"),
    "download": ("hebbdam.data.commands", "download", "fetch the downloaded data.sources into data/raw"),
    "prepare": ("hebbdam.data.commands", "prepare", "data.sources → data/processed/<name>.pt + manifest"),
    "bench": ("hebbdam.bench", "main", "memory-engine speed: ratios to the machine's GEMM rate, reports/benchmarks.md"),
    "report": ("hebbdam.report", "main", "reports/README.md: every figure, measured against published"),
    "validate-rules": ("hebbdam.rules.validate", "main", "measure every learning rule against its published behaviour"),
    "appendix_b": ("hebbdam.experiments.appendix_b", "main", "E2: Krotov & Hopfield 2016 Appendix B, random starts"),
    "retrieval": ("hebbdam.experiments.retrieval", "main", "E3: image retrieval, UHN grid vs Hebbian and DAM arms"),
    "generalisation": ("hebbdam.experiments.generalisation", "main", "E6: memorised/spurious/generalised against K"),
    "ladder": ("hebbdam.experiments.capacity", "ladder_main", "E1 ladder: one family of rules × models"),
    "classification": ("hebbdam.experiments.classification", "main", "E5: K&H 2016 dense classifier, four memory arms"),
    "sequences": ("hebbdam.experiments.sequences", "main", "E4: sequence capacity P_T, P_S of SeqNet and DenseNets"),
    "budget": ("hebbdam.experiments.budget", "main", "E8: local rules against backprop at a fixed budget (one part)"),
    # new commands: add one line here
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hebbdam", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, metavar="command")
    for name, (_, _, help_text) in COMMANDS.items():
        cmd = sub.add_parser(name, help=help_text)
        cmd.add_argument("--params", default="params.yaml", help="composed params file (default: params.yaml)")
        cmd.add_argument(
            "overrides",
            nargs="*",
            help="compose: Hydra overrides (profile=ci); download/prepare: source names; ladder: a family; "
            "figures: figure names",
        )
        cmd.add_argument("--out", default=None, help="output file or folder, where the command has one")
        cmd.add_argument("--baseline", default=None, help="baseline folder (gate only)")
        cmd.add_argument("--metrics", default=None, help="metrics folder read by gate, figures and report")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from .logs import quiet_libraries

    quiet_libraries()
    module_name, function_name, _ = COMMANDS[args.command]
    try:
        function = getattr(importlib.import_module(module_name), function_name)
        function(args)
    except HebbdamError as err:
        print(f"hebbdam: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("hebbdam: interrupted; outputs from before this run are unchanged", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
