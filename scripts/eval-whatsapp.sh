#!/usr/bin/env bash
# The real labeled data in ../shared/datasets/whatsapp-web-actions (labels per capture file, LABELS.tsv):
# label every WhatsApp flow of each file with the file's action (cipherscope label --capture-action), then
# evaluate the random forest, the SVM and the LSTM ensemble in the layout of the paper's Table 2 (grouped by
# capture, and the leaky random split). The records carry every feature group, the LSTM's series included.
#   bash scripts/eval-whatsapp.sh [OUT_DIR]     (default out/whatsapp)
set -euo pipefail
cd "$(dirname "$0")/.."
data=../shared/datasets/whatsapp-web-actions
out=${1:-out/whatsapp}
mkdir -p "$out/labeled"
cs() { node bin/cipherscope.js "$@"; }
[ -f dist/cli/main.js ] || npm run --silent build
tail -n +2 "$data/LABELS.tsv" | while IFS=$'\t' read -r file app action _rest; do
  cs label "$data/$file" --capture-action "WhatsApp/$action" --features all -o "$out/labeled/${file%.pcapng}.csv" -q
done
cs evaluate "$out"/labeled/*.csv --report "$out/evaluation.json" --html "$out/evaluation.html" | tee "$out/table2.md"
