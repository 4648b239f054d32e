"""Data integrity: what the target acknowledged against what its system of record holds.

:mod:`~peakdrill.integrity.ack` records acknowledgements in the load processes; the run
directory keeps them (``acks/``, see docs/run-directory.md); after the load the configured
reconcilers (:mod:`~peakdrill.integrity.reconcilers`) ask the system of record what it holds for
this run's test traffic, and :mod:`~peakdrill.integrity.verdict` counts lost, duplicated and
phantom records per kind and per fault window into ``reconciliation.json``.
"""
