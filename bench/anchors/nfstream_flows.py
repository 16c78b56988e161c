"""nfstream 6.5 as a benchmark anchor: meter a capture with one meter and count the flows.

    bench/data/nfstream/venv/bin/python bench/anchors/nfstream_flows.py FILE [--dissect]

Statistics only (statistical_analysis=True, no nDPI dissection, no SPLT) unless --dissect, which adds nDPI's
application detection (n_dissections=20, nfstream's default). Flows are consumed as nfstream users do, one
NFlow object at a time; the count goes to stderr.
"""
import sys

from nfstream import NFStreamer

path = sys.argv[1]
dissect = "--dissect" in sys.argv[2:]
streamer = NFStreamer(source=path, n_meters=1, statistical_analysis=True, n_dissections=20 if dissect else 0, splt_analysis=0)
n = 0
for _flow in streamer:
    n += 1
print(f"{n} flows", file=sys.stderr)
