"""peakdrill's load test: the order and customer-service journeys of the peak model.

Plain Locust runs it as it is (web UI or headless):

    locust -f loadtests/locustfile.py --host http://127.0.0.1:8800
    locust -f loadtests/locustfile.py --headless -u 20 -r 10 -t 20s --host http://127.0.0.1:8800

`peakdrill drill` adds `loadtests/profile_shape.py` to drive the users from a profile and
`--peakdrill-run-dir` to record per-second HdrHistograms into the run directory. The journeys reach
the target through its endpoint map (`PEAKDRILL_ENDPOINTS=loadtests/targets/<shop>.yaml`, default the
reference shop's); see docs/load-profiles.md.
"""

import peakdrill.loadgen.plugin  # noqa: F401  (registers the run-directory hooks and option)
from journeys.customer_service import CustomerServiceUser  # noqa: F401
from journeys.orders import OrderUser  # noqa: F401
