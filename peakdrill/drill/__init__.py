"""Drills: a load profile and a timeline of chaos experiments on one clock."""
