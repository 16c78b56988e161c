/**
 * The ClientHello-length shortcut: how well the length of a connection's first client packet with payload (the
 * TLS ClientHello, or QUIC's padded Initial), alone, names the app, on the flows that open a connection. On a
 * testbed where each app has one host name, that length carries the SNI's length and names the app by itself; a
 * testbed that does not give the app away this way should leave it near the majority baseline.
 *
 *   node --import tsx scripts/clienthello-shortcut.ts LABELED.csv [--folds 5] [--seed 1]
 *
 * A random forest on that one number, stratified group k-fold as `cipherscope evaluate` splits, beside the
 * majority and chance baselines.
 */
import { argv } from 'node:process';
import { encodeLabels, labeledAppRows } from '../src/dataset/matrix.js';
import { readRecordsCsv } from '../src/dataset/records.js';
import { splitGroups, stratifiedGroupKFold } from '../src/dataset/splits.js';
import { labeledColumns } from '../src/label/label-capture.js';
import { crossValidate } from '../src/models/cross-validate.js';
import { scores } from '../src/models/metrics.js';
import { modelKind } from '../src/models/model-kinds.js';

const args = argv.slice(2);
const opt = (name: string, d: number) => (args.includes(name) ? Number(args[args.indexOf(name) + 1]) : d);
const files = args.filter((a, i) => !a.startsWith('--') && !(i > 0 && args[i - 1].startsWith('--')));
if (files.length === 0) throw new Error('give labeled flow records (.csv)');
const folds = opt('--folds', 5);
const seed = opt('--seed', 1);

const table = readRecordsCsv(files[0], labeledColumns());
for (const f of files.slice(1)) table.rows.push(...readRecordsCsv(f, labeledColumns()).rows);
const at = (n: string) => table.names.indexOf(n);
const [splt, segment, app] = ['splt_signed_len_bytes', 'segment', 'label_app'].map(at);
// Connection-opening records of a known app: the first segment, with a client packet that carries payload
// (longer than the 60-byte SYN or 52-byte ACK of TCP's handshake).
const rows: number[] = [];
const first: number[] = [];
for (const r of labeledAppRows(table)) {
  const row = table.rows[r];
  if (row[segment] !== 0) continue;
  const lens = (row[splt] as number[] | null) ?? [];
  const hello = lens.find((l) => l > 60);
  if (hello === undefined) continue;
  rows.push(r);
  first.push(hello);
}
const { classes, y } = encodeLabels(rows.map((r) => table.rows[r][app] as string));
const fold = stratifiedGroupKFold(y, splitGroups(table, rows, folds), classes.length, folds, seed);
const x = { rows: rows.length, cols: 1, data: Float64Array.from(first) };
const cv = await crossValidate(modelKind('rf'), x, y, classes.length, fold, folds, { task: 'app', seed: (f) => seed + f });
const s = scores(y, cv.predicted, classes.length);
const counts = classes.map((_, c) => y.filter((v) => v === c).length);
const majority = Math.max(...counts) / y.length;
const pct = (v: number) => (100 * v).toFixed(1);
process.stdout.write(
  `${rows.length} connection-opening records of ${classes.length} apps (${classes.map((c, i) => `${c} ${counts[i]}`).join(', ')}); ` +
    `the first client packet with payload alone, random forest, grouped ${folds}-fold: accuracy ${pct(s.accuracy)}%, macro-F1 ${pct(s.macroF1)}%; ` +
    `majority baseline ${pct(majority)}%, chance ${pct(1 / classes.length)}%; distinct lengths per app: ${classes.map((c, i) => `${c} ${new Set(first.filter((_, j) => y[j] === i)).size}`).join(', ')}\n`,
);
