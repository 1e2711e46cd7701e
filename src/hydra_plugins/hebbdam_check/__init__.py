"""Hydra imports every module under ``hydra_plugins`` when it starts, DVC's composition for ``dvc exp run -S``
included: this registers the ``hebbdam_check`` resolver that ``conf/config.yaml`` uses to check every composed
params mapping (:mod:`hebbdam.validation`) before it is written anywhere."""

from hebbdam.validation import register_resolver

register_resolver()
