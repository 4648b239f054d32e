"""Replay: turn last peak's traffic (an access log, or per-minute counts) into a load profile."""
