"""The SLO rule language: which requests, which metric, what bound, over which window (docs/slo.md).

Models and parsing only; measuring a rule over a run is the report's job
(:mod:`peakdrill.report.rules`).
"""
