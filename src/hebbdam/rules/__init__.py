"""Learning rules, each labelled local or nonlocal. Importing this package registers them all."""

from . import hebbian  # noqa: F401  (registers hebb and slot)
from .base import Rule, get_rule, register, rule_names

__all__ = ["Rule", "get_rule", "register", "rule_names"]
