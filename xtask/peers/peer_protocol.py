"""How `cargo xtask bench-peers` talks to its peer scripts (peers.py, reference_peers.py).

A peer script runs as one process for the whole run, so its libraries are
imported once, and answers one case at a time, right after our implementation
ran the same case: ours and the peers' are measured seconds apart, not minutes,
so a slow spell of a shared machine falls on both or on neither.

Protocol: the first line the script writes is {"versions": {...}}; then for
every line read on stdin (one case of the plan, a JSON object) it writes one
line, {"measurements": [...]} or {"error": "traceback"}. The lines go to the
process's original stdout; file descriptor 1 is then pointed at stderr, so a
library that prints cannot break the protocol. Progress goes to stderr.
"""

import json
import os
import sys
import time
import traceback

import numpy as np
import threadpoolctl

# Seconds to wait after a case before answering: the peers' thread pools
# (OpenBLAS, OpenMP) spin for a while after their last call, and would take
# cores from our next measurement.
SETTLE_S = 0.5


def serve(kinds, versions, threads):
    protocol = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    sys.stdout = sys.stderr

    def send(message):
        protocol.write(json.dumps(message) + "\n")
        protocol.flush()

    send({"versions": versions})
    with threadpoolctl.threadpool_limits(threads):
        for line in sys.stdin:
            case = json.loads(line)
            try:
                measurements = kinds[case["kind"]](case)
            except Exception:
                send({"error": f"{case.get('case', '?')}: {traceback.format_exc()}"})
                continue
            for m in measurements:
                print(f"  {m['case']:<48} {m['implementation']:<40} {np.median(m['seconds']):9.4f} s", file=sys.stderr, flush=True)
            time.sleep(SETTLE_S)
            send({"measurements": measurements})
