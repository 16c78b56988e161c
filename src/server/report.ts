import { esc } from '../models/report-html.js';
import type { ProfileStore } from '../profile/store.js';
import type { EvaluationReport } from './app.js';
import { type VegaLiteSpec, appBarsSpec, confusionSpec, perClassSpec, timelineSpec, traitSpec } from './charts.js';
import type { FlowStore } from './flow-store.js';
import { specToSvg } from './render.js';

/**
 * `cipherscope report`: the dashboard's views as one self-contained HTML file (charts as inline SVG drawn from the
 * same Vega-Lite specifications, no script, no external resource), for papers and tickets. Each chart is also
 * returned on its own, to be written as an .svg file.
 */

export interface ReportSources {
  flows: FlowStore;
  profiles?: ProfileStore;
  reports: EvaluationReport[];
  title: string;
  /** Flows listed in the table (largest first). */
  topFlows?: number;
  /** Profiles shown (most streams first). */
  maxProfiles?: number;
}

const num = (n: number) => n.toLocaleString('en-US');
const when = (ms: number | null) => (ms === null ? '' : new Date(ms).toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC'));

export async function reportHtml(s: ReportSources): Promise<{ html: string; charts: Array<{ name: string; svg: string }> }> {
  const charts: Array<{ name: string; svg: string }> = [];
  const draw = async (name: string, spec: VegaLiteSpec) => {
    const svg = await specToSvg(spec);
    charts.push({ name, svg });
    return `<figure>${svg}</figure>`;
  };
  const parts: string[] = [];
  const f = s.flows;
  parts.push(
    '<h2>Captures</h2><table><thead><tr><th>capture</th><th>kind</th><th>flows</th><th>packets</th><th>bytes</th><th>from</th><th>to</th><th>protocols</th></tr></thead><tbody>',
    ...f.captures.map((c) => `<tr><td>${esc(c.name)}</td><td>${c.kind}</td><td class="n">${num(c.flows)}</td><td class="n">${num(c.packets ?? 0)}</td><td class="n">${num(c.bytes)}</td><td>${when(c.firstSeenMs)}</td><td>${when(c.lastSeenMs)}</td><td>${Object.entries(c.protocols).map(([k, v]) => `${esc(k)} ${num(v)}`).join(', ')}</td></tr>`),
    '</tbody></table>',
  );
  parts.push('<h2>Apps and timelines</h2><div class="charts">', await draw('apps', appBarsSpec(f.appCounts(), 'flows by app')));
  for (const by of ['app', 'action'] as const) {
    const t = f.timeline(by);
    if (t.points.length > 0) parts.push(await draw(`timeline-${by}`, timelineSpec(t.points, t.binMs, by, `flows by ${by} over time`)));
  }
  parts.push('</div>');
  const top = f.query({ sort: 'bytes', desc: true, limit: s.topFlows ?? 50 });
  parts.push(
    `<h2>Largest flows</h2><p>${num(top.rows.length)} of ${num(top.total)} flows, by bytes.</p><table><thead><tr>${top.columns.map((c) => `<th>${esc(c)}</th>`).join('')}</tr></thead><tbody>`,
    ...top.rows.map((r) => `<tr>${r.map((v) => `<td>${esc(v)}</td>`).join('')}</tr>`),
    '</tbody></table>',
  );
  if (s.profiles) {
    const users = await s.profiles.listUsers(s.maxProfiles ?? 20);
    parts.push(`<h2>User profiles</h2><p>${num(users.length)} users shown (most streams first); ids are pseudonyms.</p>`);
    for (const u of users) {
      const p = (await s.profiles.profile(u.userId))!;
      parts.push(
        `<h3>${esc(p.userId)}</h3><p>${num(p.streams)} streams; apps: ${Object.entries(p.usage.app ?? {}).map(([k, v]) => `${esc(k)} ${num(v)}`).join(', ')}</p>`,
      );
      if (p.predictions.length > 0) {
        parts.push(
          '<table><thead><tr><th>model</th><th>trait</th><th>value</th><th>probability</th></tr></thead><tbody>',
          ...p.predictions.map((r) => `<tr><td>${esc(r.model)}</td><td>${esc(r.trait)}</td><td>${esc(r.value)}</td><td class="n">${r.probability.toFixed(3)}</td></tr>`),
          '</tbody></table>',
          await draw(`traits-${p.userId}`, traitSpec(p.predictions, `trait probabilities of ${p.userId}`)),
        );
      }
    }
  }
  for (const [ri, r] of s.reports.entries()) {
    parts.push(`<h2>Evaluation: ${esc(r.name)}</h2>`);
    for (const [ti, t] of r.results.entries()) {
      parts.push(
        `<h3>${esc(t.model)}, ${esc(t.task)} (${t.split === 'group-kfold' ? 'grouped k-fold' : 'random 80/20'}): accuracy ${(100 * t.accuracy).toFixed(1)}, macro-F1 ${(100 * t.macroF1).toFixed(1)} [${(100 * t.macroF1Ci[0]).toFixed(1)}, ${(100 * t.macroF1Ci[1]).toFixed(1)}], ${num(t.rows)} rows</h3><div class="charts">`,
        await draw(`report${ri}-task${ti}-confusion`, confusionSpec(t.classes, t.confusion, `${t.model}, ${t.task}: confusion`)),
        await draw(`report${ri}-task${ti}-scores`, perClassSpec(t.perClass, `${t.model}, ${t.task}: per class`)),
        '</div>',
      );
    }
  }
  const html = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(s.title)}</title>
<style>body{font:14px/1.45 system-ui,sans-serif;margin:20px;color:#1d2330}table{border-collapse:collapse;margin:8px 0}th,td{border:1px solid #d9dee5;padding:3px 7px;text-align:left}td.n{text-align:right}th{background:#eef1f5}.charts{display:flex;flex-wrap:wrap;gap:16px;align-items:flex-start}figure{margin:0}</style>
</head><body><h1>${esc(s.title)}</h1><p>Written by cipherscope report on ${new Date().toISOString().slice(0, 10)}. Contains flow records${s.profiles ? ' and user profiles' : ''}: handle as personal data.</p>
${parts.join('\n')}
</body></html>
`;
  return { html, charts };
}
