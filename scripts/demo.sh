#!/usr/bin/env bash
# The main job on the bundled real captures (../shared/pcaps): installs what is missing, then writes one flow
# record per flow of every capture to out/flows.csv and out/flows.parquet, and a noise-filtered capture.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
pcaps="${PCAPS_DIR:-../shared/pcaps}"
mkdir -p out
shopt -s nullglob
inputs=("$pcaps"/*.pcap "$pcaps"/*.pcapng)
[ ${#inputs[@]} -gt 0 ] || { echo "demo: no captures in $pcaps" >&2; exit 1; }
node bin/cipherscope.js flows "${inputs[@]}" -o out/flows.csv 2> out/flows.log
node bin/cipherscope.js flows "${inputs[@]}" -o out/flows.parquet -q
node bin/cipherscope.js filter "$pcaps/sll-mixed-tcp-dns-arp.pcap" -o out/sll-mixed-filtered.pcap
echo "demo: $(($(wc -l < out/flows.csv) - 1)) flow records from ${#inputs[@]} captures -> out/flows.csv, out/flows.parquet (per-capture summaries and input warnings in out/flows.log)"
