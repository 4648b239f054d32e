"""Baselines and the regression gate: ``peakdrill baseline save`` and ``peakdrill gate`` (docs/ci.md)."""
