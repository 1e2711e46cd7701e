"""The paper profile is a pipeline of its own: ``reports/paper/`` is a DVC project (``dvc init --subdir``) with its
generated dvc.yaml, its params.yaml composed from ``conf/paper.yaml`` and its outputs, so the root pipeline's
``dvc status``, ``dvc repro`` and ``dvc plots show`` never see it, and reproducing one pipeline leaves the other's
files byte for byte as they were."""

from __future__ import annotations

import configparser
import hashlib
import json
import posixpath
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from hebbdam.stages import EXPERIMENTS, PAPER, ROOT

from .conftest import REPO_ROOT, TINY_CAPACITY, dvc, stage_env


def _paper_dvc_yaml() -> dict:
    return yaml.safe_load((REPO_ROOT / PAPER.dvc_yaml).read_text(encoding="utf-8"))


def test_both_committed_dvc_yaml_files_are_the_generated_ones():
    from hebbdam.dvcyaml import wanted_files

    wanted = wanted_files()
    assert {REPO_ROOT / "dvc.yaml", REPO_ROOT / "reports/paper/dvc.yaml"} <= set(wanted)
    for path, text in wanted.items():
        assert path.read_text(encoding="utf-8") == text, f"{path}: run `make stages` and commit"


def test_check_refuses_a_stale_paper_dvc_yaml(tmp_path):
    """`hebbdam dvc-yaml --check` (what `make test` runs through the test above) fails naming the paper file."""
    from hebbdam.breaks import copy_tree

    copy = copy_tree(tmp_path / "repo", REPO_ROOT)
    paper = copy / PAPER.dvc_yaml
    paper.write_text(paper.read_text(encoding="utf-8").replace("--out reports/paper/metrics", "", 1), encoding="utf-8")
    env = {**stage_env(), "PYTHONPATH": str(copy / "src")}
    argv = [sys.executable, "-m", "hebbdam.cli", "dvc-yaml", "--check"]
    result = subprocess.run(argv, cwd=copy, env=env, capture_output=True, text=True, check=False)
    assert result.returncode == 2 and "reports/paper/dvc.yaml: out of date" in result.stderr, result.stderr


def _repository_path(path: str) -> str:
    """A path of the paper dvc.yaml as a repository-relative path."""
    return posixpath.normpath(posixpath.join(PAPER.project, path))


def _outputs(document: dict, project: str) -> set[str]:
    paths = set()
    for body in document["stages"].values():
        body = body.get("do") or body
        for entry in body.get("outs", []) + body.get("metrics", []):
            path = next(iter(entry)) if isinstance(entry, dict) else entry
            paths.add(posixpath.normpath(posixpath.join(project, path)) if project else path)
    return paths


def test_the_paper_pipeline_writes_only_inside_its_project_and_shares_no_output_with_the_root():
    paper = _paper_dvc_yaml()
    outputs = _outputs(paper, PAPER.project)
    root = _outputs(yaml.safe_load((REPO_ROOT / "dvc.yaml").read_text(encoding="utf-8")), "")
    assert all(path.startswith(f"{PAPER.project}/") for path in outputs), outputs
    assert outputs.isdisjoint(root)
    assert {f"{PAPER.reports}/{name}" for name in ("README.md", "numbers.tex", "headline.csv")} <= outputs
    for stage in EXPERIMENTS:  # an experiment without --out would write the root's reports/metrics
        body = paper["stages"][stage.name]
        assert f"--out {PAPER.metrics_dir}" in (body.get("do") or body)["cmd"], stage.name
    for name, body in paper["stages"].items():
        body = body.get("do") or body
        assert body["cmd"].startswith("cd ../.. && hebbdam ") and f"--params {PAPER.params_file}" in body["cmd"]
        options = body["cmd"].split()
        for option in ("--out", "--metrics"):  # every folder or file a command is told to write or read
            if option in options:
                assert options[options.index(option) + 1].startswith(f"{PAPER.reports}/"), (name, option)
        # code outside the project is listed file by file: DVC would hash a folder with its __pycache__
        external = [dep for dep in body["deps"] if dep.startswith("../")]
        assert external and all(dep.endswith(".py") for dep in external), name
        assert all((REPO_ROOT / _repository_path(dep)).is_file() for dep in external), name


def test_the_paper_project_composes_conf_paper_with_dvc():
    """`cd reports/paper && dvc exp run -S …` composes conf/paper.yaml into reports/paper/params.yaml."""
    config = configparser.ConfigParser()
    config.read(REPO_ROOT / PAPER.project / ".dvc" / "config")
    hydra = config["hydra"]
    assert hydra["enabled"] == "true" and hydra["config_name"] == PAPER.config
    assert (REPO_ROOT / PAPER.project / hydra["config_dir"]).resolve() == (REPO_ROOT / "conf").resolve()


def test_committed_paper_params_are_the_composition_of_conf_paper():
    from hebbdam.composition import compose

    text = compose([], REPO_ROOT / "conf", selection=False, config_name=PAPER.config, selection_name=PAPER.selection)
    committed = (REPO_ROOT / PAPER.params_file).read_text(encoding="utf-8")
    assert committed == text, "reports/paper/params.yaml is stale: run `make paper-params` and commit"
    params = yaml.safe_load(committed)
    assert (params["profile"], params["data"]["root"]) == ("paper", PAPER.data)


def test_each_pipeline_keeps_its_own_selection(tmp_path, run_cli, monkeypatch):
    """A profile selected for the root pipeline never reaches the paper's params, and the paper's own selection
    (`make paper-params OVERRIDES=…`) never reaches params.yaml."""
    from hebbdam.breaks import copy_tree

    root = copy_tree(tmp_path / "repo", REPO_ROOT)
    monkeypatch.chdir(root)
    assert run_cli("compose", "profile=ci") == 0
    assert run_cli("compose", "--pipeline", "paper", "capacity.trials=3") == 0
    laptop = yaml.safe_load((root / ROOT.params_file).read_text(encoding="utf-8"))
    paper = yaml.safe_load((root / PAPER.params_file).read_text(encoding="utf-8"))
    assert (laptop["profile"], paper["profile"]) == ("ci", "paper")
    assert paper["capacity"]["trials"] == 3 and laptop["capacity"]["trials"] != 3
    assert (laptop["data"]["root"], paper["data"]["root"]) == (ROOT.data, PAPER.data)
    assert run_cli("compose", "--pipeline", "paper", "--reset") == 0
    assert yaml.safe_load((root / PAPER.params_file).read_text(encoding="utf-8"))["capacity"]["trials"] != 3
    assert yaml.safe_load((root / ROOT.params_file).read_text(encoding="utf-8"))["profile"] == "ci"


# --- DVC itself, in a git copy of the repository ---------------------------------------------------------------------


def _digests(root: Path, folder: str, skip: str | None = None) -> dict[str, str]:
    """sha256 of every file under ``folder`` (not under ``skip``), by repository-relative path."""
    files = (path for path in (root / folder).rglob("*") if path.is_file())
    return {
        path.relative_to(root).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in files
        if skip is None or not path.relative_to(root).as_posix().startswith(f"{skip}/")
    }


def _root_files(root: Path) -> dict[str, str]:
    """The root pipeline's files: its results, params.yaml and dvc.lock."""
    digests = _digests(root, "reports", skip=PAPER.project)
    for name in ("params.yaml", "dvc.lock", "dvc.yaml"):
        digests[name] = hashlib.sha256((root / name).read_bytes()).hexdigest()
    return digests


def _ok(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


@pytest.fixture(scope="module")
def git_copy(tmp_path_factory) -> Path:
    """A git copy of the repository with every root stage recorded (nothing stale) and the paper pipeline never run."""
    from hebbdam.measure import scratch_repository

    return scratch_repository(tmp_path_factory.mktemp("repo"))


@pytest.mark.slow  # four dvc commands in a copy, about 20 s
def test_a_never_run_paper_pipeline_leaves_the_root_clean(git_copy):
    assert not (git_copy / PAPER.project / "dvc.lock").exists()
    assert json.loads(_ok(dvc(git_copy, "status", "--json")) or "{}") == {}
    shown = json.loads(_ok(dvc(git_copy, "plots", "show", "--json")))
    assert shown.get("errors", []) == [] and shown["data"]
    assert not any(PAPER.project in name for name in shown["data"])
    metrics = json.loads(_ok(dvc(git_copy, "metrics", "show", "--json")))
    assert not any(PAPER.project in name for revision in metrics.values() for name in revision.get("data", {}))
    stale = json.loads(_ok(dvc(git_copy / PAPER.project, "status", "--json")))
    assert {"download", "capacity", "report"} <= set(stale)  # the paper project sees its own never-run stages


@pytest.mark.slow  # a tiny capacity stage in each pipeline, the paper figures and report: about 2 min on 2 cores
def test_reproducing_one_pipeline_never_touches_the_other(git_copy):
    from hebbdam.composition import compose

    project = git_copy / PAPER.project
    tiny = ["profile=ci", "trainer=cpu", *TINY_CAPACITY]
    (project / "params.yaml").write_text(
        compose(tiny, git_copy / "conf", selection=False, config_name=PAPER.config, selection_name=PAPER.selection),
        encoding="utf-8",
    )
    root_before = _root_files(git_copy)
    _ok(dvc(project, "repro", "capacity"))
    # the paper figures and report (the root's committed metrics stand in for the other paper stages' results)
    for path in (git_copy / ROOT.metrics_dir).rglob("*.json"):
        target = git_copy / PAPER.metrics_dir / path.relative_to(git_copy / ROOT.metrics_dir)
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(path.read_bytes())
    _ok(dvc(project, "repro", "--single-item", "figures", "report"))
    assert _root_files(git_copy) == root_before
    assert json.loads(_ok(dvc(git_copy, "status", "--json")) or "{}") == {}
    paper_record = json.loads((git_copy / PAPER.metrics_dir / "capacity.json").read_text(encoding="utf-8"))
    assert paper_record["profile"] == "ci"
    readme = (git_copy / PAPER.reports / "README.md").read_text(encoding="utf-8")
    assert f"`{PAPER.metrics_dir}/`" in readme and (git_copy / PAPER.reports / "numbers.tex").is_file()
    assert (git_copy / PAPER.figures_dir / "capacity.pdf").is_file()

    paper_before = _digests(git_copy, PAPER.project)
    (git_copy / "params.yaml").write_text(compose(TINY_CAPACITY, git_copy / "conf", selection=False), encoding="utf-8")
    _ok(dvc(git_copy, "repro", "capacity"))
    assert _root_files(git_copy)["reports/metrics/capacity.json"] != root_before["reports/metrics/capacity.json"]
    assert _digests(git_copy, PAPER.project) == paper_before
    assert "capacity" not in json.loads(_ok(dvc(project, "status", "--json")) or "{}")


def test_run_pipeline_runs_the_paper_stages_as_the_paper_dvc_yaml_does():
    """`hebbdam run-pipeline --pipeline paper` (a GPU machine without DVC) runs the same command lines, in order."""
    from hebbdam.runner import commands

    expected = []
    for body in _paper_dvc_yaml()["stages"].values():
        items = body.get("foreach", [None])
        command = (body.get("do") or body)["cmd"].removeprefix("cd ../.. && ")
        expected += [command.replace("${item}", item) if item else command for item in items]
    assert [" ".join(argv) for argv in commands([], PAPER)] == expected


@pytest.mark.slow  # a git copy and one queued experiment, about 40 s
def test_a_queued_paper_experiment_composes_the_paper_profile_whatever_the_laptop_selected(tmp_path):
    """In reports/paper, `dvc exp run --queue -S …` composes conf/paper.yaml (its .dvc/config says so): paper sizes
    plus the override, even after `make params OVERRIDES=profile=ci` selected ci for the laptop pipeline."""
    from hebbdam.measure import scratch_repository

    repo = scratch_repository(tmp_path / "repo")
    env = {**stage_env(), "PYTHONPATH": str(repo / "src")}
    argv = [sys.executable, "-m", "hebbdam.cli", "compose", "profile=ci"]
    subprocess.run(argv, cwd=repo, env=env, check=True, capture_output=True)
    project = repo / PAPER.project
    _ok(dvc(project, "exp", "run", "--queue", "-n", "picked", "-S", "capacity.trials=2", "capacity"))
    shown = json.loads(_ok(dvc(project, "exp", "show", "--json")))
    queued = [rev for commit in shown for exp in commit.get("experiments") or [] for rev in exp["revs"]]
    params = next(rev for rev in queued if rev["name"] == "picked")["data"]["params"]["params.yaml"]["data"]
    assert (params["profile"], params["capacity"]["trials"], params["data"]["root"]) == ("paper", 2, PAPER.data)
    assert yaml.safe_load((repo / "params.yaml").read_text(encoding="utf-8"))["profile"] == "ci"
