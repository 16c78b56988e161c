import type { ClusterResult, EarlyResult, OpenWorldResult, TaskResult } from './evaluate.js';

/**
 * A self-contained HTML evaluation report: the Table 2 layout, per-class precision/recall/F1, confusion matrices as
 * inline SVG (row-normalised shading, counts written in the cells), top features, open world, early
 * classification and clusters of streams. No script and no external resource, so it opens anywhere and attaches to a ticket as is.
 */

/** Text (or any value, as text) safe inside HTML elements and attribute values. */
export const esc = (s: unknown) => String(s ?? '').replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);
const pct = (x: number) => (100 * x).toFixed(1);

/** A confusion matrix as SVG: rows are the truth, columns the prediction. */
export function confusionSvg(classes: readonly string[], m: readonly (readonly number[])[], title: string): string {
  const k = classes.length;
  const cell = 44;
  const left = 12 + 7 * Math.max(...classes.map((c) => c.length));
  const top = 30 + 7 * Math.max(...classes.map((c) => c.length));
  const w = left + k * cell + 10;
  const h = top + k * cell + 24;
  const parts = [`<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" font-family="sans-serif" font-size="12" role="img" aria-label="${esc(title)}">`, `<text x="4" y="14" font-weight="bold">${esc(title)}</text>`];
  classes.forEach((c, j) => parts.push(`<text transform="translate(${left + j * cell + cell / 2 + 4},${top - 6}) rotate(-60)">${esc(c)}</text>`));
  m.forEach((row, i) => {
    const total = row.reduce((a, b) => a + b, 0);
    parts.push(`<text x="${left - 6}" y="${top + i * cell + cell / 2 + 4}" text-anchor="end">${esc(classes[i])}</text>`);
    row.forEach((v, j) => {
      const share = total > 0 ? v / total : 0;
      const light = Math.round(97 - 60 * share);
      parts.push(`<rect x="${left + j * cell}" y="${top + i * cell}" width="${cell - 1}" height="${cell - 1}" fill="hsl(${i === j ? 210 : 10},70%,${light}%)"><title>${esc(classes[i])} predicted as ${esc(classes[j])}: ${v} (${pct(share)}% of the row)</title></rect>`);
      parts.push(`<text x="${left + j * cell + cell / 2}" y="${top + i * cell + cell / 2 + 4}" text-anchor="middle" fill="${share > 0.6 ? '#fff' : '#000'}">${v}</text>`);
    });
  });
  parts.push(`<text x="${left}" y="${h - 6}">rows: truth, columns: prediction</text>`, '</svg>');
  return parts.join('\n');
}

export function evaluationHtml(title: string, results: readonly TaskResult[], open: readonly OpenWorldResult[], early: readonly EarlyResult[], table2: string, clusters: readonly ClusterResult[] = []): string {
  const section = (r: TaskResult) => {
    const rows = r.perClass.map((p) => `<tr><td>${esc(p.class)}</td><td>${pct(p.precision)}</td><td>${pct(p.recall)}</td><td>${pct(p.f1)}</td><td>${p.support}</td></tr>`).join('');
    const imp = r.importances.length ? `<p>Top features: ${r.importances.map((f) => `${esc(f.feature)} (${f.importance.toFixed(3)})`).join(', ')}</p>` : '';
    return `<section><h3>${esc(r.model)}, ${esc(r.task)}, ${r.split === 'group-kfold' ? 'grouped k-fold' : 'random 80/20 (leaky reference)'}</h3>
<p>${r.rows} flows; macro-F1 ${pct(r.macroF1)} (95% CI ${pct(r.macroF1Ci[0])} to ${pct(r.macroF1Ci[1])}); accuracy ${pct(r.accuracy)}</p>
<div class="pair"><table><tr><th>class</th><th>precision</th><th>recall</th><th>F1</th><th>support</th></tr>${rows}</table>
${confusionSvg(r.classes, r.confusion, `${r.model} ${r.task}`)}</div>${imp}</section>`;
  };
  const mdTable = (md: string) => {
    const lines = md.trim().split('\n').filter((l) => !/^\|[-:|]+\|$/.test(l));
    return `<table>${lines.map((l, i) => `<tr>${l.slice(1, -1).split('|').map((c) => (i === 0 ? `<th>${esc(c.trim())}</th>` : `<td>${esc(c.trim())}</td>`)).join('')}</tr>`).join('')}</table>`;
  };
  const openRows = open.map((o) => `<tr><td>${esc(o.heldOut)}</td><td>${o.auroc.toFixed(3)}</td><td>${o.threshold.toFixed(2)}</td><td>${pct(o.unknownRejected)}%</td></tr>`).join('');
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${esc(title)}</title>
<style>body{font-family:sans-serif;margin:2em;max-width:1200px}table{border-collapse:collapse;margin:.5em 1em .5em 0}td,th{border:1px solid #bbb;padding:3px 8px;text-align:right}th:first-child,td:first-child{text-align:left}.pair{display:flex;flex-wrap:wrap;align-items:flex-start;gap:1em}section{border-top:1px solid #ddd;margin-top:1em}</style>
</head><body><h1>${esc(title)}</h1>
<h2>Table 2 layout</h2><p>macro-F1 [95% bootstrap interval] / accuracy, in percent. The grouped split keeps whole captures (or blocks of consecutive flows of one capture) on one side; the random 80/20 split is the paper's, shown as a leaky reference.</p>
${mdTable(table2)}
${open.length ? `<h2>Open world</h2><p>Each app left out of training in turn; the threshold keeps 95% of known-app test flows.</p><table><tr><th>app left out</th><th>AUROC known vs unknown</th><th>threshold</th><th>its flows called unknown</th></tr>${openRows}</table>` : ''}
${early.length ? `<h2>Early classification</h2><table><tr><th>packets seen</th>${early.map((e) => `<th>${e.packets}</th>`).join('')}</tr><tr><td>app macro-F1</td>${early.map((e) => `<td>${pct(e.macroF1)}</td>`).join('')}</tr><tr><td>accuracy</td>${early.map((e) => `<td>${pct(e.accuracy)}</td>`).join('')}</tr></table>` : ''}
${clusters.length ? `<h2>Clusters of streams</h2><p>A forest on each cluster's merged statistics (count, sum and sum of squares of packet lengths and gaps); clusters of k flows of one app and group, grouped k-fold.</p><table><tr><th>streams per cluster</th>${clusters.map((c) => `<th>${c.streams}</th>`).join('')}</tr><tr><td>test clusters</td>${clusters.map((c) => `<td>${c.clusters}</td>`).join('')}</tr><tr><td>app macro-F1</td>${clusters.map((c) => `<td>${pct(c.macroF1)}</td>`).join('')}</tr><tr><td>accuracy</td>${clusters.map((c) => `<td>${pct(c.accuracy)}</td>`).join('')}</tr><tr><td>mean probability of the predicted app</td>${clusters.map((c) => `<td>${pct(c.confidence)}</td>`).join('')}</tr></table>` : ''}
<h2>Per task</h2>${results.map(section).join('\n')}
</body></html>
`;
}
