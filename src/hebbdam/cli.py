"""``hebbdam <command>``: the commands ``dvc.yaml`` runs, plus composing params, the pipeline files and the CI gate.

Every command reads ``params.yaml`` (``--params`` to use another file). A problem the user can fix ends with one
line ``hebbdam: error: …`` on stderr and exit code 2; outputs are written atomically, so nothing is half-written.
Parameters come from params.yaml only: a stage command takes no override words (``dvc exp run -S key=value`` or
``make params OVERRIDES=…`` change params.yaml), and a word or option a command does not take is refused.
"""

from __future__ import annotations

import argparse
import importlib
import os
import signal
import sys
import traceback
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from .errors import HebbdamError
from .stages import PIPELINES, STAGES, figure_modules


@dataclass(frozen=True)
class Command:
    """A subcommand: ``entry`` ("module:function", called with the parsed namespace), its positional words (``words``:
    a metavar, ``choices``: the valid ones or None for free text, ``many``: several allowed) and its options.
    ``checked``: the whole params file is checked (:func:`hebbdam.validation.check_file`) before ``entry`` runs."""

    entry: str
    help: str
    words: str | None = None
    choices: tuple[str, ...] | None = None
    many: bool = True
    options: tuple[str, ...] = ()
    checked: bool = False


def _commands() -> dict[str, Command]:
    from .data.sources import ALL as SOURCES

    commands: dict[str, Command] = {
        "compose": Command(
            "hebbdam.commands:compose",
            "compose conf/ (with Hydra overrides, kept as your selection for later dvc exp run) into params.yaml "
            "(--pipeline paper: conf/paper.yaml into reports/paper/params.yaml, with its own selection). "
            + _config_groups(),
            "override",
            None,
            True,
            ("--out", "--reset", "--cfg", "--pipeline"),
        ),
        "dvc-yaml": Command(
            "hebbdam.dvcyaml:main",
            "write dvc.yaml from src/hebbdam/stages.py (--check: fail if it differs)",
            options=("--out", "--check"),
        ),
        "run-pipeline": Command(
            "hebbdam.runner:main",
            "run the stages in pipeline order without DVC (a machine with no dvc installed)",
            "stage",
            tuple(stage.name for stage in STAGES),
            options=("--pipeline",),
        ),
        "gate": Command(
            "hebbdam.gate:main",
            "compare metrics with a committed baseline within tolerances; `gate calibrate SEED … [jobs=N]` measures "
            "the seed spread the bands come from",
            "word",
            options=("--baseline", "--metrics", "--same-seed"),
        ),
        "breaks": Command(
            "hebbdam.breaks:main",
            "plant each known break in a scratch copy, run the ci stages it touches, and require the gate to fail it "
            "(`breaks [NAME …] [jobs=N]`)",
            "word",
            options=("--baseline",),
        ),
        "bench": Command(
            "hebbdam.bench:main",
            "memory-engine speed: ratios to the machine's GEMM rate, reports/benchmarks.md",
            options=("--out",),
        ),
        "measure": Command(
            "hebbdam.measure:main",
            "measure the figures README.md quotes (composition time, one- against two-device stage time, exp-show "
            "width, install size, test-suite time) into reports/measured.json and README.md",
            "part",
            ("compose", "devices", "exp-show", "install", "suite"),
        ),
        "stage-times": Command(
            "hebbdam.timings:main", "write README.md's stage-time paragraph from .timings/", options=("--out",)
        ),
        "validate-rules": Command(
            "hebbdam.experiments.validate_rules:main",
            "measure every learning rule against its published behaviour",
            "check",
            options=("--out",),
        ),
    }
    for stage in STAGES:
        if stage.name in ("download", "prepare"):
            commands[stage.command] = Command(stage.entry, stage.help, "source", SOURCES, checked=True)
        elif stage.name == "figures":
            commands[stage.command] = Command(
                stage.entry, stage.help, "figure", tuple(figure_modules()), options=("--out", "--metrics")
            )
        elif stage.name == "report":
            commands[stage.command] = Command(stage.entry, stage.help, options=("--out", "--metrics"))
        elif stage.foreach:
            commands[stage.command] = Command(
                stage.entry, stage.help, "family", stage.foreach, many=False, options=("--out",), checked=True
            )
        else:
            commands[stage.command] = Command(stage.entry, stage.help, options=("--out",), checked=True)
    return commands


OPTION_HELP = {
    "--out": "output file or folder (default: the command's usual place)",
    "--metrics": "metrics folder to read (default: reports/metrics)",
    "--baseline": "baseline folder (default: reports/ci-baseline)",
    "--check": "write nothing; fail when the file on disk differs",
    "--reset": "forget the kept selection (conf/selection/current.yaml): back to the defaults of conf/",
    "--cfg": "print the composed config (with the kept selection and these overrides) and write nothing",
    "--pipeline": "root (params.yaml, conf/config.yaml; the default) or paper (reports/paper/params.yaml, "
    "conf/paper.yaml)",
    "--same-seed": "the run used the baseline's seed: keys listed under 'exact' must equal the baseline bit for bit",
}
FLAGS = ("--check", "--reset", "--cfg", "--same-seed")  # options that take no value
CHOICES = {"--pipeline": tuple(pipeline.name for pipeline in PIPELINES)}  # options that take one of a few values


def _config_groups(config_dir: Path = Path("conf")) -> str:
    """'Config groups: profile (ci | laptop | paper), rule (…), …' read from conf/ (an override picks one)."""
    groups = []
    for folder in sorted(p for p in config_dir.glob("*") if p.is_dir() and p.name != "selection"):
        options = sorted(f.stem for f in folder.glob("*.yaml"))
        groups.append(f"{folder.name} ({' | '.join(options)})")
    return f"Config groups: {', '.join(groups)}." if groups else ""


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors that list what is valid; ``subparsers``: each command's own parser."""

    subparsers: Mapping[str, argparse.ArgumentParser]

    def error(self, message: str):  # noqa: D102 - argparse hook
        valid = [a.option_strings[0] for a in self._actions if a.option_strings and a.dest != "help"]
        positional = [a for a in self._actions if not a.option_strings and a.dest != "command"]
        valid += [str(action.metavar) for action in positional]
        hint = f" (valid: {', '.join(valid)})" if valid and "; valid:" not in message else ""
        self.exit(2, f"{self.prog}: error: {message}{hint}\n")


def build_parser(commands: dict[str, Command] | None = None) -> _Parser:
    """The ``hebbdam`` parser; ``parser.subparsers`` maps each command name to its own parser."""
    commands = commands or _commands()
    parser = _Parser(prog="hebbdam", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, metavar="command", parser_class=_Parser)
    parser.subparsers = sub.choices
    for name, command in commands.items():
        cmd = sub.add_parser(name, help=command.help, description=command.help)
        cmd.add_argument("--params", default="params.yaml", help="composed params file (default: params.yaml)")
        for option in command.options:
            if option in FLAGS:
                cmd.add_argument(option, action="store_true", help=OPTION_HELP[option])
            else:
                cmd.add_argument(option, default=None, choices=CHOICES.get(option), help=OPTION_HELP[option])
        if command.words:
            cmd.add_argument(
                "words",
                nargs="*" if command.many else None,
                metavar=command.words,
                help=f"{command.words} names" + (f": {', '.join(command.choices)}" if command.choices else ""),
            )
        cmd.set_defaults(**{option.lstrip("-"): None for option in OPTION_HELP if option not in command.options})
        if not command.words:
            cmd.set_defaults(words=[])
    return parser


def _interrupted(signum, frame):
    raise KeyboardInterrupt


def _one_line(message: object) -> str:
    return " ".join(part.strip() for part in str(message).splitlines() if part.strip())


def _unexpected(err: BaseException) -> str:
    """One line for an error the commands do not raise themselves (a full disk, an unwritable --out, a binary params
    file, a RuntimeError deep in a library): its type, the file it names, and the message."""
    if isinstance(err, OSError) and err.filename:
        reason = err.strerror or type(err).__name__
        return f"{err.filename}: {reason} ({type(err).__name__})"
    if isinstance(err, UnicodeDecodeError):
        return f"a file is not UTF-8 text ({err.reason} at byte {err.start}); is it the file you meant?"
    return f"{type(err).__name__}: {_one_line(err) or '(no message)'}"


def _stage_clock(args):
    """A :class:`hebbdam.timings.StageClock` for a stage of dvc.yaml run as dvc.yaml runs it (params.yaml, the usual
    outputs), else None: a scratch run (``--out``, another params file) leaves the recorded times alone."""
    stage = next((stage for stage in STAGES if stage.command == args.command), None)
    if stage is None or getattr(args, "out", None) or args.params != "params.yaml":
        return None
    from .timings import StageClock

    return StageClock("_".join([stage.name, *args.words]))


def main(argv: list[str] | None = None) -> int:
    commands = _commands()
    parser = build_parser(commands)
    args, unknown = parser.parse_known_args(argv)
    if unknown:  # reported by the command's own parser, which lists what it takes
        parser.subparsers[args.command].error(f"unrecognized arguments: {' '.join(unknown)}")
    words = args.words
    args.words = [words] if isinstance(words, str) else list(words or [])
    choices = commands[args.command].choices
    invalid = [word for word in args.words if choices is not None and word not in choices]
    if invalid:  # checked here, not by argparse, whose choices reject an empty list of words
        parser.subparsers[args.command].error(
            f"unknown {commands[args.command].words} {', '.join(invalid)}; valid: {', '.join(choices or ())}"
        )
    args.overrides = args.words  # the name the command functions read
    from .logs import quiet_libraries

    quiet_libraries()
    # Ctrl-C interrupts the run even when it was started with SIGINT ignored (a `cmd &` of a non-interactive shell, as
    # in CI scripts), which Python otherwise keeps: the stage would run on to the end and write its outputs
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _interrupted)  # a killed run unwinds like Ctrl-C: temporary files are removed
    if argv is None:  # the command line itself, not an in-process call: a stage whose parent dies writes nothing
        from .orphan import arm

        arm()
    module_name, function_name = commands[args.command].entry.split(":")
    try:
        if commands[args.command].checked:  # here, not in the stage's code: the check is no stage's dependency
            from .validation import check_file

            check_file(args.params)
        function = getattr(importlib.import_module(module_name), function_name)
        clock = _stage_clock(args)
        function(args)
        if clock is not None:
            clock.stop()
    except HebbdamError as err:
        print(f"hebbdam: error: {_one_line(err)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("hebbdam: interrupted; no output of this run was written, earlier files are unchanged", file=sys.stderr)
        return 130
    except Exception as err:  # noqa: BLE001 - every other failure: one line, the traceback behind HEBBDAM_DEBUG=1
        if os.environ.get("HEBBDAM_DEBUG") == "1":
            traceback.print_exc()
        hint = "" if os.environ.get("HEBBDAM_DEBUG") == "1" else " [HEBBDAM_DEBUG=1 shows the traceback]"
        print(f"hebbdam: error: {args.command}: {_unexpected(err)}{hint}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
