"""Every stage's settings schema, importable without torch or Lightning.

The composition check (:mod:`hebbdam.validation`, run by ``hebbdam compose`` and ``dvc exp run -S``) parses a
composed config with these schemas only, so composing takes about a second: ``hebbdam.settings.<stage>`` holds the
``Settings`` dataclass of ``hebbdam.experiments.<stage>`` (its arms, options and checks) and a ``parse_settings``
that reads a params section into it; the experiment module imports them and builds what needs torch (its rules and
separations: :func:`hebbdam.experiments.common.built`). ``catalogue`` names the rules and memory kinds (what each
writes and accepts) so that an arm's rule is checked without building it; ``common`` holds what several schemas share.
Nothing here imports torch, Lightning or a model (``tests/test_composition_imports.py``).
"""
