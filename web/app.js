// cipherscope dashboard: one page, routes in the address's hash, data from the /api endpoints of `cipherscope
// serve` (which keep the token in an HttpOnly cookie). The flows table asks the server for one page at a time.

const view = document.getElementById('view');
const PAGE = 100;
const NUMERIC = new Set(['flow_id', 'protocol', 'client_port', 'server_port', 'packets', 'bytes', 'duration_ns', 'app_probability']);

const esc = (s) => String(s ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);
const fmt = (n) => (typeof n === 'number' ? n.toLocaleString('en-US') : esc(n));
const pad = (n) => String(n).padStart(2, '0');
/** A time in the viewer's own zone, and in UTC beside it (a capture's clock and the reader's rarely share a zone). */
const when = (ms) => {
  if (ms == null) return '';
  const d = new Date(ms);
  const local = `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  return `${local} (${d.toISOString().slice(11, 19)} UTC)`;
};
/** IP protocol numbers as Wireshark's Protocol column names them. */
const PROTOCOLS = { 1: 'ICMP', 6: 'TCP', 17: 'UDP', 58: 'ICMPv6', 132: 'SCTP' };
const protocolName = (v) => (v === '' || v == null ? '' : PROTOCOLS[v] ?? `IP proto ${v}`);

async function api(path) {
  const r = await fetch(path, { credentials: 'same-origin' });
  if (!r.ok) throw new Error(`${path}: ${r.status} ${await r.text()}`);
  return r.json();
}

async function chart(el, spec) {
  await vegaEmbed(el, spec, { actions: { export: true, source: false, compiled: false, editor: false }, renderer: 'svg' });
}

function route() {
  const hash = location.hash.replace(/^#/, '') || '/';
  const [path, query = ''] = hash.split('?');
  return { parts: path.split('/').filter(Boolean), params: new URLSearchParams(query) };
}

function go(path, params) {
  const q = params ? params.toString() : '';
  location.hash = `#${path}${q ? `?${q}` : ''}`;
}

async function captures() {
  const d = await api('/api/captures');
  view.innerHTML = `<h2>Captures</h2><div class="cards" data-testid="captures">${d.captures
    .map(
      (c) => `<div class="card"><div><a href="#/flows?capture=${encodeURIComponent(c.name)}">${esc(c.name)}</a> <span class="muted">${c.kind}</span></div>
      <div class="big">${fmt(c.flows)} flows</div>
      <div>${fmt(c.packets)} packets, ${fmt(c.bytes)} bytes</div>
      <div class="muted">${when(c.firstSeenMs)} to ${when(c.lastSeenMs)}</div>
      <div class="muted">${Object.entries(c.protocols).map(([k, v]) => `${esc(k)} ${fmt(v)}`).join(', ')}</div></div>`,
    )
    .join('')}</div><h3>Apps</h3><div id="apps"></div>`;
  await chart('#apps', d.apps);
}

async function flows(params) {
  const d = await api('/api/captures');
  const apps = [...new Set(d.captures.flatMap((c) => Object.keys(c.apps)))].sort();
  const page = Number(params.get('page') ?? 0);
  const q = new URLSearchParams();
  for (const k of ['capture', 'q', 'app', 'protocol', 'sort', 'desc']) if (params.get(k)) q.set(k, params.get(k));
  q.set('offset', String(page * PAGE));
  q.set('limit', String(PAGE));
  const data = await api(`/api/flows?${q}`);
  const opt = (v, label, sel) => `<option value="${esc(v)}"${sel ? ' selected' : ''}>${esc(label)}</option>`;
  const sort = params.get('sort');
  const desc = params.get('desc') === '1';
  view.innerHTML = `<h2>Flows</h2>
  <form class="controls" data-testid="flow-filters">
    <select name="capture">${opt('', 'all captures', !params.get('capture'))}${d.captures.map((c) => opt(c.name, c.name, params.get('capture') === c.name)).join('')}</select>
    <select name="app">${opt('', 'all apps', !params.get('app'))}${apps.map((a) => opt(a, a, params.get('app') === a)).join('')}</select>
    <select name="protocol">${opt('', 'any protocol', !params.get('protocol'))}${[['6', 'TCP'], ['17', 'UDP'], ['1', 'ICMP'], ['58', 'ICMPv6']].map(([v, l]) => opt(v, l, params.get('protocol') === v)).join('')}</select>
    <input type="search" name="q" placeholder="search addresses, SNI, DNS names, apps" value="${esc(params.get('q') ?? '')}" data-testid="flow-search">
    <button type="submit">Filter</button>
  </form>
  <div class="pager" data-testid="pager"><button data-page="${page - 1}" ${page <= 0 ? 'disabled' : ''}>Previous</button>
    <span data-testid="flow-count">rows ${fmt(data.total === 0 ? 0 : data.offset + 1)}–${fmt(data.offset + data.rows.length)} of ${fmt(data.total)}</span>
    <button data-page="${page + 1}" ${data.offset + data.rows.length >= data.total ? 'disabled' : ''}>Next</button></div>
  <div class="table-wrap"><table data-testid="flows-table"><thead><tr>${data.columns
    .map((c) => `<th class="sortable${NUMERIC.has(c) ? ' num' : ''}${sort === c ? (desc ? ' sorted-desc' : ' sorted-asc') : ''}" data-col="${esc(c)}">${esc(c)}</th>`)
    .join('')}</tr></thead><tbody>${data.rows
    .map((r) => `<tr>${r.map((v, i) => `<td${NUMERIC.has(data.columns[i]) ? ' class="num"' : ''}>${data.columns[i] === 'first_seen_ns' && v ? esc(when(Number(BigInt(v) / 1000000n))) : data.columns[i] === 'protocol' ? esc(protocolName(v)) : esc(v)}</td>`).join('')}</tr>`)
    .join('')}</tbody></table></div>`;
  view.querySelector('form').addEventListener('submit', (e) => {
    e.preventDefault();
    const f = new FormData(e.target);
    const next = new URLSearchParams();
    for (const [k, v] of f) if (v) next.set(k, v);
    if (sort) next.set('sort', sort);
    if (desc) next.set('desc', '1');
    go('/flows', next);
  });
  view.querySelectorAll('[data-page]').forEach((b) =>
    b.addEventListener('click', () => {
      const next = new URLSearchParams(params);
      next.set('page', b.dataset.page);
      go('/flows', next);
    }),
  );
  view.querySelectorAll('th[data-col]').forEach((th) =>
    th.addEventListener('click', () => {
      const next = new URLSearchParams(params);
      next.delete('page');
      const again = sort === th.dataset.col;
      next.set('sort', th.dataset.col);
      if (again && !desc) next.set('desc', '1');
      else next.delete('desc');
      go('/flows', next);
    }),
  );
}

async function timeline(params) {
  const d = await api('/api/captures');
  const by = params.get('by') === 'action' ? 'action' : 'app';
  const q = new URLSearchParams({ by });
  if (params.get('capture')) q.set('capture', params.get('capture'));
  const t = await api(`/api/timeline?${q}`);
  view.innerHTML = `<h2>Timeline</h2><form class="controls">
    <select name="by"><option value="app"${by === 'app' ? ' selected' : ''}>by app</option><option value="action"${by === 'action' ? ' selected' : ''}>by action</option></select>
    <select name="capture"><option value="">all captures</option>${d.captures.map((c) => `<option${params.get('capture') === c.name ? ' selected' : ''}>${esc(c.name)}</option>`).join('')}</select>
    <button>Show</button></form><div id="timeline" data-testid="timeline"></div>`;
  view.querySelector('form').addEventListener('submit', (e) => {
    e.preventDefault();
    const next = new URLSearchParams();
    for (const [k, v] of new FormData(e.target)) if (v) next.set(k, v);
    go('/timeline', next);
  });
  await chart('#timeline', t.spec);
}

async function profiles() {
  const d = await api('/api/profiles');
  view.innerHTML = `<h2>User profiles</h2><p class="muted">Users are pseudonyms (a keyed hash of the device address or operator id).</p>
  <table data-testid="profiles"><thead><tr><th>user</th><th class="num">streams</th><th>first seen</th><th>last seen</th></tr></thead><tbody>${d.users
    .map((u) => `<tr><td><a href="#/profile/${encodeURIComponent(u.userId)}">${esc(u.userId)}</a></td><td class="num">${fmt(u.streams)}</td><td>${when(u.firstSeenS * 1000)}</td><td>${when(u.lastSeenS * 1000)}</td></tr>`)
    .join('')}</tbody></table>`;
}

async function profile(id) {
  const d = await api(`/api/profiles/${encodeURIComponent(id)}`);
  const p = d.profile;
  const known = Object.entries(p.traits);
  view.innerHTML = `<h2>Profile <code>${esc(p.userId)}</code></h2>
  <p>${fmt(p.streams)} streams, ${when(p.firstSeenS * 1000)} to ${when(p.lastSeenS * 1000)}${known.length ? `; labeled: ${known.map(([k, v]) => `${esc(k)} = ${esc(v)}`).join(', ')}` : ''}</p>
  <h3>Trait predictions</h3>
  <table data-testid="trait-predictions"><thead><tr><th>model</th><th>trait</th><th>value</th><th class="num">probability</th></tr></thead><tbody>${p.predictions
    .map((r) => `<tr><td>${esc(r.model)}</td><td>${esc(r.trait)}</td><td>${esc(r.value)}</td><td class="num">${r.probability.toFixed(3)}</td></tr>`)
    .join('') || '<tr><td colspan="4" class="muted">no predictions yet (cipherscope profile predict)</td></tr>'}</tbody></table>
  <div class="charts"><div id="traits"></div><div id="usage"></div></div>
  <h3>Stream statistics</h3><table><thead><tr><th>metric</th><th class="num">n</th><th class="num">mean</th><th class="num">SD</th></tr></thead><tbody>${Object.entries(p.stats)
    .map(([k, m]) => {
      const mean = m.n ? m.sum / m.n : 0;
      const sd = m.n > 1 ? Math.sqrt(Math.max(0, (m.sumSq - m.n * mean * mean) / (m.n - 1))) : 0;
      return `<tr><td>${esc(k)}</td><td class="num">${fmt(m.n)}</td><td class="num">${mean.toFixed(1)}</td><td class="num">${sd.toFixed(1)}</td></tr>`;
    })
    .join('')}</tbody></table>`;
  if (p.predictions.length) await chart('#traits', d.traits);
  await chart('#usage', d.usage);
}

async function reports() {
  const d = await api('/api/reports');
  view.innerHTML = `<h2>Evaluation reports</h2>${d.reports.length ? `<ul>${d.reports.map((r) => `<li><a href="#/report/${r.id}">${esc(r.name)}</a> <span class="muted">${r.files.map(esc).join(', ')}</span></li>`).join('')}</ul>` : '<p class="muted">none loaded (serve --report eval.json)</p>'}`;
}

async function report(id) {
  const d = await api(`/api/reports/${id}`);
  view.innerHTML = `<h2>${esc(d.name)}</h2><div id="task"></div><h3>All tasks</h3><table data-testid="report-summary"><thead><tr><th>model</th><th>task</th><th>split</th><th class="num">rows</th><th class="num">accuracy</th><th class="num">macro-F1 [95% CI]</th></tr></thead><tbody>${d.tasks
    .map((t, i) => `<tr><td>${esc(t.model)}</td><td><a href="#/report/${id}?task=${i}">${esc(t.task)}</a></td><td>${esc(t.split)}</td><td class="num">${fmt(t.rows)}</td><td class="num">${(100 * t.accuracy).toFixed(1)}</td><td class="num">${(100 * t.macroF1).toFixed(1)} [${(100 * t.macroF1Ci[0]).toFixed(1)}, ${(100 * t.macroF1Ci[1]).toFixed(1)}]</td></tr>`)
    .join('')}</tbody></table>`;
  const i = Number(route().params.get('task') ?? 0);
  const t = d.tasks[i];
  if (!t) return;
  document.getElementById('task').innerHTML = `<h3>${esc(t.model)}, ${esc(t.task)} (${esc(t.split)}): accuracy ${(100 * t.accuracy).toFixed(1)}, macro-F1 ${(100 * t.macroF1).toFixed(1)}</h3><div class="charts"><div id="confusion" data-testid="confusion"></div><div id="scores"></div></div>`;
  await chart('#confusion', t.confusion);
  await chart('#scores', t.scores);
}

async function render() {
  const { parts, params } = route();
  const page = parts[0] ?? 'captures';
  document.querySelectorAll('[data-nav]').forEach((a) => a.classList.toggle('active', a.dataset.nav === page || (page === 'profile' && a.dataset.nav === 'profiles') || (page === 'report' && a.dataset.nav === 'reports')));
  view.setAttribute('aria-busy', 'true');
  try {
    if (page === 'flows') await flows(params);
    else if (page === 'timeline') await timeline(params);
    else if (page === 'profiles') await profiles();
    else if (page === 'profile') await profile(decodeURIComponent(parts[1]));
    else if (page === 'reports') await reports();
    else if (page === 'report') await report(parts[1]);
    else await captures();
  } catch (e) {
    view.innerHTML = `<p class="error">${esc(e.message)}</p>`;
  } finally {
    view.setAttribute('aria-busy', 'false');
  }
}

window.addEventListener('hashchange', render);
render();
