"""Typed, validated models of the files users write: profiles, drills, targets."""
