"""Learning rules, each labelled local or nonlocal. Importing this package registers them all."""

from . import dense, hebbian, hidden, pairwise, prototypes, sparse  # noqa: F401  (each module registers its rules)
from .base import (
    TARGETS,
    Rule,
    RuleTargetError,
    check_target,
    get_rule,
    register,
    register_factory,
    rule_defaults,
    rule_names,
)

__all__ = [
    "TARGETS",
    "Rule",
    "RuleTargetError",
    "check_target",
    "get_rule",
    "register",
    "register_factory",
    "rule_defaults",
    "rule_names",
]
