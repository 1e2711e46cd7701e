"""The pinned environment: requirements.lock pins every requirement of pyproject.toml to one exact version."""

from __future__ import annotations

import re

import pytest

from .conftest import REPO_ROOT


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~ ;\[]", requirement, maxsplit=1)[0].strip().lower().replace("_", "-")


def test_every_requirement_is_pinned_exactly_in_the_lock():
    tomllib = pytest.importorskip("tomllib")  # Python ≥ 3.11
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    wanted = [*project["dependencies"], *project["optional-dependencies"]["dev"]]
    pinned = {}
    for line in (REPO_ROOT / "requirements.lock").read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            requirement = line.split(";")[0].strip()
            assert re.fullmatch(r"[A-Za-z0-9_.\-]+==[A-Za-z0-9_.+\-]+", requirement), f"not an exact pin: {line}"
            pinned[_name(requirement)] = requirement
    missing = [_name(r) for r in wanted if _name(r) not in pinned]
    assert not missing, f"requirements.lock lacks {missing}: run `make lock`"
