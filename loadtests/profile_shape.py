"""Adds peakdrill's profile-driven load shape: `locust -f loadtests/locustfile.py,loadtests/profile_shape.py`
with PEAKDRILL_PROFILE=loadtests/profiles/<name>.yaml (and optionally PEAKDRILL_SCALE)."""

from peakdrill.loadgen.shape import ProfileShape  # noqa: F401
