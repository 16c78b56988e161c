#!/usr/bin/python3
"""Run a command, print its wall time (s) and peak resident memory (KiB) as JSON: {"seconds": s, "maxrss_kib": k, "status": n}.
Peak memory comes from getrusage(RUSAGE_CHILDREN), so it covers the command (and anything it waits for)."""
import json
import resource
import subprocess
import sys
import time

t = time.monotonic()
r = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
seconds = time.monotonic() - t
print(json.dumps({"seconds": seconds, "maxrss_kib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, "status": r.returncode}))
