#!/usr/bin/python3
"""Run a command, print its wall time, CPU time (user + system, s) and peak resident memory (KiB) as JSON.
Peak memory comes from getrusage(RUSAGE_CHILDREN), so it covers the command (and anything it waits for)."""
import json
import resource
import subprocess
import sys
import time

t = time.monotonic()
r = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
seconds = time.monotonic() - t
ru = resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({"seconds": seconds, "cpu_seconds": ru.ru_utime + ru.ru_stime, "maxrss_kib": ru.ru_maxrss, "status": r.returncode}))
