"""One experiment, one config file: conf/experiment/<x>.yaml holds the laptop sizes and, in its ``profiles:`` block,
the ci and paper sizes, which Hydra reads as the configs experiment/<x>/<profile> (src/hydra_plugins/hebbdam_profiles)
and merges through the defaults entry ``optional <x>@_here_: ${profile}``; the profile files hold no experiment's
sizes.

The laptop composition is pinned by params.yaml (tests/test_config.py), the paper one by reports/paper/params.yaml
(tests/test_paper_pipeline.py); the ci one, which the regression gate's baseline was computed at, is pinned here.
"""

from __future__ import annotations

import pytest
import yaml

from hebbdam.composition import compose

from .conftest import REPO_ROOT

CONF = REPO_ROOT / "conf"
EXPERIMENTS = sorted(path.stem for path in (CONF / "experiment").glob("*.yaml"))
PROFILES = sorted(path.stem for path in (CONF / "profile").glob("*.yaml"))
CI_EXPECTED = REPO_ROOT / "tests" / "fixtures" / "compose" / "ci.yaml"
REGENERATE = f"hebbdam compose --reset && hebbdam compose profile=ci --out {CI_EXPECTED.relative_to(REPO_ROOT)}"


def test_every_experiment_merges_its_profile_sizes_from_its_own_folder():
    """Without the entry (or with a misspelt group), the folder's sizes would be silently ignored: `optional`."""
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
