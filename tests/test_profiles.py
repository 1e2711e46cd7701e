"""One experiment, one config file: conf/experiment/<x>.yaml holds the laptop sizes and, in its ``profiles:`` block,
the ci and paper sizes, which Hydra reads as the configs experiment/<x>/<profile> (src/hydra_plugins/hebbdam_profiles)
and merges through the defaults entry ``optional <x>@_here_: ${profile}``; the profile files hold no experiment's
sizes.

The laptop composition is pinned by params.yaml (tests/test_config.py), the paper one by reports/paper/params.yaml
(tests/test_paper_pipeline.py); the ci one, which the regression gate's baseline was computed at, is pinned here.
"""

from __future__ import annotations

import os
import shutil

import pytest
import yaml
from omegaconf import OmegaConf

from hebbdam.composition import compose
from hebbdam.errors import HebbdamError

from .conftest import REPO_ROOT

CONF = REPO_ROOT / "conf"
EXPERIMENTS = sorted(path.stem for path in (CONF / "experiment").glob("*.yaml"))
PROFILES = sorted(path.stem for path in (CONF / "profile").glob("*.yaml"))
CI_EXPECTED = REPO_ROOT / "tests" / "fixtures" / "compose" / "ci.yaml"
REGENERATE = f"hebbdam compose --reset && hebbdam compose profile=ci --out {CI_EXPECTED.relative_to(REPO_ROOT)}"


def test_every_experiment_merges_its_profile_sizes_from_its_own_block():
    """Without the entry (or with a misspelt group), the block would be silently ignored: `optional`."""
    for name in EXPERIMENTS:
        defaults = yaml.safe_load((CONF / "experiment" / f"{name}.yaml").read_text(encoding="utf-8"))["defaults"]
        assert defaults[0] == "_self_", f"conf/experiment/{name}.yaml: the profile sizes must merge after its own"
        assert f"optional {name}@_here_" in defaults[1] and defaults[1][f"optional {name}@_here_"] == "${profile}", (
            f"conf/experiment/{name}.yaml: defaults must list `- optional {name}@_here_: ${{profile}}`"
        )


def blocks(name: str) -> dict:
    """The ``profiles:`` block of conf/experiment/<name>.yaml ({} without one)."""
    return yaml.safe_load((CONF / "experiment" / f"{name}.yaml").read_text(encoding="utf-8")).get("profiles") or {}


def test_sizes_live_in_the_experiment_file_under_profile_names():
    """A block named after no profile would never be merged (`optional`), and a folder conf/experiment/<x>/ would be
    a second place for the sizes (the plugin serves the block under that name: a file there would shadow it)."""
    assert not [path for path in (CONF / "experiment").iterdir() if path.is_dir()], "sizes belong in the file's block"
    sized = [name for name in EXPERIMENTS if blocks(name)]
    assert sized, "no experiment file has a profiles: block"
    for name in sized:
        assert set(blocks(name)) <= set(PROFILES) - {"laptop"}, (
            f"conf/experiment/{name}.yaml: profiles: {sorted(blocks(name))}, not among {PROFILES} less laptop"
        )


def test_a_block_key_is_overridden_whatever_the_order_and_the_block_leaves_the_composition():
    """The block merges like a file: a key it sets is still a plain value that an override reaches, before or after
    the profile is chosen, and the block itself is never a key of params.yaml."""
    for overrides in (["profile=ci", "continual.training.cap=77"], ["continual.training.cap=77", "profile=ci"]):
        composed = yaml.safe_load(compose(overrides, config_dir=CONF, selection=False))
        assert composed["continual"]["training"]["cap"] == 77
        assert composed["continual"]["seeds"] == blocks("continual")["ci"]["seeds"]  # the rest of the block merged
        assert not [key for key in leaves(composed) if ".profiles." in f".{key}"], "a block reached the composition"


def conf_copy(tmp_path, marker: bool = True):
    """A copy of conf/ under ``tmp_path`` (without its kept selection), with or without conf/.profile-blocks."""
    folder = tmp_path / "conf"
    shutil.copytree(CONF, folder, ignore=shutil.ignore_patterns("selection"))
    if not marker:
        (folder / ".profile-blocks").unlink()
    return folder


def test_without_the_source_the_blocks_are_refused_by_name_and_other_folders_are_plain_hydra(tmp_path):
    """conf/ without its marker is read by Hydra's own file source (as any other app's folder is): the blocks reach
    the composition as keys, and the params check says why in one line instead of composing laptop sizes as ci."""
    folder = conf_copy(tmp_path, marker=False)
    with pytest.raises(HebbdamError, match=r"profiles.*block reached the composition.*hebbdam_profiles"):
        compose(["profile=ci"], config_dir=folder, selection=False)
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir

    with initialize_config_dir(str(folder), version_base=None):
        plain = hydra_compose(config_name="config", overrides=["profile=ci", "checked=null"])
    assert OmegaConf.to_container(plain.continual.profiles.ci)["seeds"] == blocks("continual")["ci"]["seeds"]


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("  cii: {seeds: 3}", r"continual\.yaml: `profiles: cii:` names no profile"),
        ("  ci: 3", r"continual\.yaml: `profiles: ci:` must map keys to sizes, not 3"),
        ("  ci: {seeds: [2}", r"continual\.yaml"),
    ],
)
def test_a_bad_block_entry_is_one_line_naming_the_file(tmp_path, entry, message):
    """A misnamed entry would be skipped silently by `optional`, a scalar one crashed inside Hydra, a YAML error
    named no file (review, session 16)."""
    folder = conf_copy(tmp_path)
    path = folder / "experiment" / "continual.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text[: text.index("\nprofiles:")] + f"\nprofiles:\n{entry}\n", encoding="utf-8")
    with pytest.raises(HebbdamError, match=message):
        compose(["profile=ci"], config_dir=folder, selection=False)


def test_an_edited_file_is_read_again_even_where_its_time_and_size_are_kept(tmp_path):
    """The source reads each file once per version: a copy that keeps the old mtime (cp -p) and the size must still
    be read again."""
    folder = conf_copy(tmp_path)
    path = folder / "experiment" / "continual.yaml"
    assert "    training: {cap: 300," in path.read_text(encoding="utf-8")
    before = yaml.safe_load(compose(["profile=ci"], config_dir=folder, selection=False))["continual"]["training"]
    status = os.stat(path)
    path.write_text(path.read_text(encoding="utf-8").replace("{cap: 300,", "{cap: 900,"), encoding="utf-8")
    os.utime(path, ns=(status.st_atime_ns, status.st_mtime_ns))
    after = yaml.safe_load(compose(["profile=ci"], config_dir=folder, selection=False))["continual"]["training"]
    assert (before["cap"], after["cap"]) == (300, 900)


@pytest.mark.parametrize("profile", PROFILES)
def test_profile_files_name_no_experiment(profile):
    """Sizes live beside their experiment, never in conf/profile/ (where they spread over four files before)."""
    keys = set(yaml.safe_load((CONF / "profile" / f"{profile}.yaml").read_text(encoding="utf-8")))
    assert keys <= {"profile", "defaults"}, f"conf/profile/{profile}.yaml sets {sorted(keys - {'profile', 'defaults'})}"


def leaves(node, prefix: str = "") -> dict:
    """{dotted key: value} of every leaf of a nested mapping."""
    if not isinstance(node, dict):
        return {prefix: node}
    return {key: value for name, child in node.items() for key, value in leaves(child, f"{prefix}{name}.").items()}


def test_ci_composition_is_the_committed_expectation():
    """A ci size changed on purpose moves reports/ci-baseline/ too: regenerate this file and the baseline together."""
    composed = compose(["profile=ci"], config_dir=CONF, selection=False)
    expected = CI_EXPECTED.read_text(encoding="utf-8")
    now, then = leaves(yaml.safe_load(composed)), leaves(yaml.safe_load(expected))
    moved = [
        f"{key.rstrip('.')}: {then.get(key)} → {now.get(key)}"
        for key in {**then, **now}
        if then.get(key) != now.get(key)
    ]
    assert composed == expected, (
        f"the ci profile's params moved ({'; '.join(moved[:6]) or 'layout only'}): if intended, `{REGENERATE}` and "
        "`make ci-baseline`"
    )


def test_profiles_differ_only_where_their_blocks_say():
    """The ci and paper compositions differ from the laptop one in the experiments whose block names that profile,
    and nowhere else (beside the profile's own name and the paper's group overrides)."""
    laptop = yaml.safe_load(compose([], config_dir=CONF, selection=False))
    for profile in ("ci", "paper"):
        other = yaml.safe_load(compose([f"profile={profile}"], config_dir=CONF, selection=False))
        sized = {name for name in EXPERIMENTS if profile in blocks(name)}
        sections = {"budget_images": ("budget", "images")}  # experiment@budget.images
        for name in EXPERIMENTS:
            path = sections.get(name, (name,))
            mine, theirs = laptop, other
            for key in path:
                mine, theirs = mine[key], theirs[key]
            if name == "budget":  # budget.images is its own experiment
                mine, theirs = ({k: v for k, v in d.items() if k != "images"} for d in (mine, theirs))
            assert (mine != theirs) == (name in sized), f"{name} at profile={profile}: sized here {name in sized}"
