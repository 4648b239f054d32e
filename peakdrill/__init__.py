"""peakdrill: load tests, chaos drills and scored reports for e-commerce sales peaks."""

__version__ = "0.1.0"

# The public call for a locustfile's business acknowledgements (docs/integrity.md).
from peakdrill.integrity.ack import ack, ack_failed  # noqa: E402

__all__ = ["__version__", "ack", "ack_failed"]
