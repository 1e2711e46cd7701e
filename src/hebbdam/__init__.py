"""hebbdam: can local Hebbian learning match Dense Associative Memory capacity?

Patterns are rows: stored patterns ``Ξ (P, D)``, a batch of states ``S (B, D)``.
"""

__version__ = "0.1.0"
