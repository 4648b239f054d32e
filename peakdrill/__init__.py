"""peakdrill: load tests, chaos drills and scored reports for e-commerce sales peaks."""

__version__ = "0.1.0"
