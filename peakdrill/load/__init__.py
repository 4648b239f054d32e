"""Load runs without faults: ``peakdrill load`` (a profile, locally or across machines),
``peakdrill capacity`` (step the load up to the knee) and ``peakdrill merge`` (shards of one run)."""
