#!/usr/bin/env bash
# The README's first hour, end to end, on the bundled captures: describe a capture, meter flows, query them in
# pandas and DuckDB, label real WhatsApp Web captures, train, classify, keep user profiles, write a report.
# Every step must succeed and say something true; CI runs this (scripts/test.sh) so the README cannot drift.
#   bash scripts/tour.sh [OUT_DIR]      (default: a fresh temporary directory, removed at the end)
set -euo pipefail
cd "$(dirname "$0")/.."
[ -d node_modules ] && [ -f dist/cli/run.js ] || bash scripts/setup.sh
pcaps="${PCAPS_DIR:-../shared/pcaps}"
data="${DATASET_DIR:-../shared/datasets/whatsapp-web-actions}"
out="${1:-$(mktemp -d)}"
[ -n "${1:-}" ] || trap 'rm -rf "$out"' EXIT
mkdir -p "$out"
# CIPHERSCOPE: how to run the CLI (default: the build in dist/, as a user runs it).
cs() { ${CIPHERSCOPE:-node bin/cipherscope.js} "$@"; }
step() { printf '\n== %s\n' "$*" >&2; }
fail() { echo "tour: $*" >&2; exit 1; }

step "1. What is in a capture (as capinfos)"
cs info "$pcaps/tls-quic-ipv6-cloudflare.pcap" | tee "$out/info.txt" | head -8
grep -q '^Number of packets: *[1-9]' "$out/info.txt" || fail "info printed no packet count"

step "2. One record per flow: every bundled capture, CSV and Parquet; a few columns as tshark -T fields"
cs flows "$pcaps" -o "$out/flows.csv" 2> "$out/flows.log"
tail -1 "$out/flows.log"
cs flows "$pcaps" -o "$out/flows.parquet" -q
cs flows "$pcaps/tls-quic-ipv6-cloudflare.pcap" -q --columns client_port,server_port,protocol,packets,bytes,tls_sni,ja4
cs flows "$pcaps/tls-quic-ipv6-cloudflare.pcap" -q --columns nfstream -o "$out/nfstream.csv"
head -c 200 "$out/nfstream.csv" | head -1 | grep -q '^id,expiration_id,src_ip' || fail "--columns nfstream wrote other names"

step "3. pandas (Debian's python3-pandas, no pyarrow) with the schema's types"
PYTHONPATH=python /usr/bin/python3 - "$out/flows.csv" "${CIPHERSCOPE:-node bin/cipherscope.js}" <<'EOF'
import sys, json, subprocess
import cipherscope_pandas as cs
schema = json.loads(subprocess.check_output(sys.argv[2].split() + ["schema", "--format", "json"]))
df = cs.read(sys.argv[1], schema)
print(df.groupby("protocol").agg(flows=("flow_id", "size"), packets=("packets", "sum"), bytes=("bytes", "sum")))
print(df[["first_seen", "tls_sni", "tls_version", "client_tcp_mss_bytes"]].dropna(subset=["tls_sni"]).head(3).to_string())
assert str(df["first_seen"].dtype) == "datetime64[ns, UTC]", df["first_seen"].dtype
assert str(df["tls_version"].dtype) == "Int64" and str(df["tls_grease"].dtype) == "boolean"
assert (df["client_tcp_mss_bytes"].dropna() > 0).all(), "an MSS stand-in"
EOF

step "4. DuckDB on the Parquet file (the same SQL works in the duckdb shell)"
node --input-type=module - "$out/flows.parquet" <<'EOF'
import { DuckDBInstance } from '@duckdb/node-api';
const db = await (await DuckDBInstance.create(':memory:')).connect();
const sql = `select tls_sni, count(*) as flows, sum(bytes) as bytes, min(first_seen) as first
             from read_parquet('${process.argv[2]}') where tls_sni is not null group by tls_sni order by bytes desc limit 5`;
const r = await db.runAndReadAll(sql);
console.table(r.getRowObjectsJson());
if (r.currentRowCount === 0) throw new Error('no flow with an SNI');
EOF

step "5. Label real WhatsApp Web captures (each capture is one action of one user)"
while IFS=$'\t' read -r file action user; do
  cs label "$data/$file" --capture-action "WhatsApp/$action" --user "$user" -o "$out/labeled-$action-$user.csv" -q
done <<EOF
userA-text-messages.pcapng	text	userA
userA-pictures.pcapng	picture	userA
userA-videos.pcapng	video	userA
userB-text-messages.pcap	text	userB
userB-photos.pcap	picture	userB
userB-videos.pcap	video	userB
EOF
ls "$out"/labeled-*.csv >/dev/null

step "6. Evaluate on users it never saw (user-disjoint), beside the majority and chance baselines; train"
cs evaluate "$out"/labeled-*.csv --models rf --group-by user 2>&1 | head -8
cs train "$out"/labeled-*.csv --model "$out/model"
[ -f "$out/model/manifest.json" ] || fail "train wrote no manifest"

step "7. Classify a capture the model has not seen"
cs classify "$data/userA-picture-single-3.pcapng" --model "$out/model" -o "$out/classified.csv"
[ "$(wc -l < "$out/classified.csv")" -gt 1 ] || fail "classify wrote no record"
cut -d, -f1-12 "$out/classified.csv" | head -3

step "8. User profiles: ingest the classified flows, show the profile"
cs profile ingest "$out/classified.csv" --db "$out/profiles.db" --key-file "$out/profile.key" --user userA
cs profile show id:userA --db "$out/profiles.db" --key-file "$out/profile.key" | head -12

step "9. A report (device addresses hidden unless --show-addresses)"
cs report "$data/userA-picture-single-3.pcapng" --model "$out/model" --db "$out/profiles.db" --key-file "$out/profile.key" -o "$out/report.html"
[ -s "$out/report.html" ] || fail "no report"
echo "tour: done; outputs in $out" >&2
