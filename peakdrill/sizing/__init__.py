"""The road to 1M users: calibrate one worker, size the run from it, and write the manifests."""
