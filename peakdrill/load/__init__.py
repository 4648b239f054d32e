"""Load runs without faults: ``peakdrill load`` (a profile, locally or across machines),
``peakdrill capacity`` (step the load up to the knee) and ``peakdrill merge`` (shards of one run)."""

# How `peakdrill capacity` hands its steps to the step shape inside Locust (a JSON list of stages).
STAGES_ENV = "PEAKDRILL_CAPACITY_STAGES"
