"""The stage table collects each experiment's stage from its settings module (``STAGES``), in ``position`` order,
and refuses two declarations of one name or one position."""

from __future__ import annotations

import sys
import types
from dataclasses import replace

import pytest

from hebbdam import stages


def test_every_experiment_stage_is_declared_in_the_settings_module_its_experiment_reads():
    """Each experiment's stage sits beside the schema its module parses (capacity's module runs the ladder too), and
    the collected order is the positions' order."""
    for stage in stages.EXPERIMENTS:
        declaring = [name for name in stages.stage_modules() if stage in vars(sys.modules[name]).get("STAGES", ())]
        experiment = stage.module.rsplit(".", 1)[-1]
        assert declaring == [f"hebbdam.settings.{experiment}"], (stage.name, declaring)
    positions = [stage.position for stage in stages.EXPERIMENTS]
    assert positions == sorted(positions) and len(set(positions)) == len(positions)
    assert [stage.name for stage in stages.EXPERIMENTS][:2] == ["capacity", "ladder"]


@pytest.mark.parametrize("field_name, value", [("name", None), ("position", 10)])
def test_a_stage_name_or_position_declared_twice_is_refused(monkeypatch, field_name, value):
    """Planted: a second settings module declares capacity's name (at a new position), or a new stage at capacity's
    position: either would make two dvc.yaml entries or an order that depends on module names."""
    capacity = next(stage for stage in stages.EXPERIMENTS if stage.name == "capacity")
    twin = replace(capacity, position=9999) if field_name == "name" else replace(capacity, name="twin", position=value)
    module = types.ModuleType("hebbdam.settings._twin")
    module.STAGES = (twin,)  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, module.__name__, module)
    real = stages.stage_modules()
    monkeypatch.setattr(stages, "stage_modules", lambda: [*real, module.__name__])
    with pytest.raises(ValueError, match=f"{field_name} declared twice: {capacity.name if value is None else value}"):
        stages.experiment_stages()
