"""The Chaos Toolkit provider: actions and probes the experiments in experiments/ call."""
