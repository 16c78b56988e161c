#!/usr/bin/env bash
# The real labeled data in ../shared/datasets/whatsapp-web-actions (labels per capture file, LABELS.tsv):
#  1. label every WhatsApp flow of each file with the file's class (text, picture, video, voice; the mixed files as
#     mixed), the message connection split into bursts at 1 s silences, its keep-alive bursts labeled keepalive
#     (docs/ground-truth.md#keep-alive-bursts); print per capture how many bursts carry the action and how many are
#     keep-alives;
#  2. evaluate in the layout of the paper's Table 2 on all files (grouped by capture, and the leaky random split);
#  3. cross-user: train on userA's single-class files, test on userB's, and the reverse, with the majority and
#     stratified-chance baselines beside each row. Lengths count the transport segment (--length transport), and
#     the capture-setup artefacts (IP version, TCP MSS and window options) are no inputs (evaluate's default):
#     userA is IPv6 on Linux cooked capture, userB IPv4 on Ethernet, so IP header sizes and the IP version would
#     tell the users apart, not the actions; then the same with only what was metered after the handshake
#     (--after-handshake --first-packets 20).
# The records carry every feature group, the LSTM's series included.
#   bash scripts/eval-whatsapp.sh [OUT_DIR]     (default out/whatsapp)
set -euo pipefail
cd "$(dirname "$0")/.."
data=../shared/datasets/whatsapp-web-actions
out=${1:-out/whatsapp}
rm -rf "$out/labeled"
mkdir -p "$out/labeled"
cs() { node bin/cipherscope.js "$@"; }
[ -f dist/cli/main.js ] || npm run --silent build

class_of() {
  case "$1" in
    *mixed*) echo mixed ;;
    *text*) echo text ;;
    *picture* | *photo*) echo picture ;;
    *video*) echo video ;;
    *voice*) echo voice ;;
    *) echo "no class for $1" >&2; exit 1 ;;
  esac
}

echo "| capture | class | WhatsApp records (bursts) | carrying the action | keep-alive | no WhatsApp name |" | tee "$out/bursts.md"
echo "|---|---|---:|---:|---:|---:|" | tee -a "$out/bursts.md"
tail -n +2 "$data/LABELS.tsv" | while IFS=$'\t' read -r file _app _action user _rest; do
  cls=$(class_of "$file")
  dest="$out/labeled/${file%.*}.csv"
  cs label "$data/$file" --capture-action "WhatsApp/$cls" --user "$user" --length transport --features all -o "$dest" --report "$out/labeled/${file%.*}.report.json" -q
  node -e '
    const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
    const a = r.byAction[process.argv[3]] ?? 0, k = r.byAction.keepalive ?? 0, i = r.byAction.impertinent ?? 0;
    console.log(`| ${process.argv[2]} | ${process.argv[3]} | ${a + k} | ${a} | ${k} | ${i} |`);
  ' "$out/labeled/${file%.*}.report.json" "${file%.*}" "$cls" | tee -a "$out/bursts.md"
done

echo
cs evaluate "$out"/labeled/*.csv --report "$out/evaluation.json" --html "$out/evaluation.html" | tee "$out/table2.md"
echo
# Leave one user out: the two users' files, the mixed ones included, each user's captures on one side.
cs evaluate "$out"/labeled/*.csv --group-by user --report "$out/evaluation-by-user.json" | tee "$out/table2-by-user.md"

single() { ls "$out"/labeled/"$1"-*.csv | grep -v mixed; }
echo
cs evaluate --train $(single userA) --test $(single userB) --models rf,svm,gbdt,lstm,plstm --report "$out/cross-a-to-b.json" | tee "$out/cross-user.md"
echo | tee -a "$out/cross-user.md"
cs evaluate --train $(single userB) --test $(single userA) --models rf,svm,gbdt,lstm,plstm --report "$out/cross-b-to-a.json" | tee -a "$out/cross-user.md"

# The same without the handshake packets (the after-handshake columns only, and their first 20 packets).
: > "$out/cross-user-after-handshake.md"
for dir in a-to-b b-to-a; do
  if [ $dir = a-to-b ]; then tr=userA te=userB; else tr=userB te=userA; fi
  echo | tee -a "$out/cross-user-after-handshake.md"
  cs evaluate --train $(single $tr) --test $(single $te) --models rf,svm,gbdt --after-handshake --first-packets 20 --report "$out/cross-$dir-after-handshake.json" | tee -a "$out/cross-user-after-handshake.md"
done
