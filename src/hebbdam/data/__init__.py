"""Data: synthetic patterns, downloaded and offline image sets, corruptions and sequences.

Modules: ``synthetic`` (Rademacher, biased, correlated ±1 patterns, bit flips), ``sources`` (what each source is;
torchvision's URLs and md5s), ``download`` (mirrors, checksums, faults), ``readers`` (IDX, CIFAR batches, digits),
``prepare`` (uniform ``data/processed/<name>.pt`` + manifest, the one verified reader), ``corrupt`` (query corruptions),
``sequences``, ``recall_tasks``, ``commands`` (``hebbdam download`` / ``hebbdam prepare``); batches for Lightning are
``lit.data``.
"""
