"""``hebbdam budget <part>``: experiment E8, local rules against backprop at a fixed budget (params ``budget.<part>``).

Parts: ``patterns`` (E8a, bits per parameter on random patterns) → budget_patterns.json; ``classify`` (E8c, where
backprop helps in classification) → budget_classify.json; ``images`` (E8b, a K-unit memory on real images) →
budget_images.json.
"""

from __future__ import annotations

import importlib

from ..errors import HebbdamError
from .common import run_stage

PARTS = {"patterns": "budget_patterns", "classify": "budget_classify", "images": "budget_images"}


def main(args) -> None:
    if len(args.overrides) != 1 or args.overrides[0] not in PARTS:
        raise HebbdamError(f"budget: expected one part, one of {', '.join(PARTS)} (e.g. `hebbdam budget patterns`)")
    part = args.overrides[0]
    module = importlib.import_module(f"{__package__}.{PARTS[part]}")
    section = f"budget.{part}"
    run_stage(
        args,
        section,
        lambda params: module.parse_settings(params, section),
        module.compute,
        record_name=f"budget_{part}",
    )
