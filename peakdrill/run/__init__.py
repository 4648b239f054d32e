"""The run engine shared by drill, load and capacity: Locust processes, the runner that puts load
and a timeline on one clock, the watcher and live statistics, the /metrics scraper, the finish."""
