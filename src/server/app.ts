import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { TaskResult } from '../models/evaluate.js';
import type { ProfileStore } from '../profile/store.js';
import { appBarsSpec, confusionSpec, perClassSpec, timelineSpec, traitSpec, usageSpec } from './charts.js';
import type { FlowQuery, FlowStore } from './flow-store.js';

/**
 * `cipherscope serve`: a dashboard over captures, flows, timelines, user profiles and evaluation reports. Every
 * page, asset and API call needs the token (the data is sensitive): an `Authorization: Bearer` header, or the
 * cookie the first page visit with `?token=` sets (HttpOnly, SameSite=Strict), after which the address bar no
 * longer carries it. Anything else gets 401. The flows table is paged, filtered, sorted and searched here, so a
 * page holds one page of flows whatever the capture's size.
 */

export interface EvaluationReport {
  name: string;
  files?: string[];
  results: TaskResult[];
}

export interface DashboardSources {
  flows: FlowStore;
  profiles?: ProfileStore;
  reports: EvaluationReport[];
}

export const COOKIE = 'cipherscope_token';
const WEB = join(dirname(fileURLToPath(import.meta.url)), '../../web');

/** Where an installed package's files are (its entry resolved, then up to its folder under node_modules). */
function packageDir(name: string): string {
  const entry = fileURLToPath(import.meta.resolve(name));
  const at = entry.lastIndexOf(`/node_modules/${name}/`);
  if (at < 0) throw new Error(`cannot find the ${name} package folder from ${entry}`);
  return entry.slice(0, at + `/node_modules/${name}/`.length);
}

/** The browser bundles of Vega, Vega-Lite and vega-embed, served from the installed packages (no CDN). */
const VENDOR: Record<string, () => string> = {
  'vega.min.js': () => join(packageDir('vega'), 'build/vega.min.js'),
  'vega-lite.min.js': () => join(packageDir('vega-lite'), 'build/vega-lite.min.js'),
  'vega-embed.min.js': () => join(packageDir('vega-embed'), 'build/vega-embed.min.js'),
};

export function newToken(): string {
  return randomBytes(24).toString('base64url');
}

const digest = (s: string) => createHash('sha256').update(s).digest();

/** The cookie's value; null when it is there but not a valid percent-encoding (a 400, not our token). */
function cookieValue(header: string | undefined, name: string): string | undefined | null {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) {
      try {
        return decodeURIComponent(part.slice(eq + 1).trim());
      } catch {
        return null;
      }
    }
  }
  return undefined;
}

const int = (v: unknown): number | undefined => (typeof v === 'string' && /^-?\d+$/.test(v) ? Number(v) : undefined);
const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

export function buildDashboard(src: DashboardSources, token: string): FastifyInstance {
  const app = Fastify({ logger: false });
  const want = digest(token);
  const valid = (given: string | undefined) => given !== undefined && timingSafeEqual(digest(given), want);

  app.addHook('onRequest', async (req: FastifyRequest, reply: FastifyReply) => {
    const auth = req.headers.authorization;
    if (auth?.startsWith('Bearer ') && valid(auth.slice(7))) return;
    const cookie = cookieValue(req.headers.cookie, COOKIE);
    if (cookie === null) return reply.code(400).type('text/plain').send(`400: the ${COOKIE} cookie is not valid percent-encoding\n`);
    if (valid(cookie)) return;
    const url = new URL(req.url, 'http://localhost');
    const given = url.searchParams.get('token') ?? undefined;
    if (given !== undefined && valid(given) && req.method === 'GET' && !url.pathname.startsWith('/api/')) {
      url.searchParams.delete('token');
      reply.header('set-cookie', `${COOKIE}=${encodeURIComponent(token)}; HttpOnly; SameSite=Strict; Path=/`);
      return reply.redirect(url.pathname + url.search + url.hash, 303);
    }
    // The token in the query string only opens a page (and turns into the cookie); /api/* takes the header or the
    // cookie, so a token never has to sit in logged URLs of API calls.
    return reply.code(401).type('text/plain').send('401: this dashboard needs its token (open the address `cipherscope serve` printed, with ?token=...)\n');
  });
  app.addHook('onSend', async (_req, reply, payload) => {
    // Nothing here may be cached or embedded elsewhere: profiles and flows are personal data.
    reply.header('cache-control', 'no-store');
    reply.header('x-frame-options', 'DENY');
    reply.header('referrer-policy', 'no-referrer');
    return payload;
  });

  const file = (path: string, type: string) => (_req: FastifyRequest, reply: FastifyReply) => reply.type(type).send(readFileSync(path));
  app.get('/', file(join(WEB, 'index.html'), 'text/html; charset=utf-8'));
  app.get('/app.js', file(join(WEB, 'app.js'), 'text/javascript; charset=utf-8'));
  app.get('/style.css', file(join(WEB, 'style.css'), 'text/css; charset=utf-8'));
  app.get<{ Params: { name: string } }>('/vendor/:name', (req, reply) => {
    // Own properties only: "constructor" or "toString" are not vendor files.
    const where = Object.hasOwn(VENDOR, req.params.name) ? VENDOR[req.params.name] : undefined;
    if (!where) return reply.code(404).send('not found');
    return reply.type('text/javascript; charset=utf-8').send(readFileSync(where()));
  });

  const flows = src.flows;
  app.get('/api/captures', async () => ({
    captures: flows.captures,
    apps: appBarsSpec(flows.appCounts(), 'flows by app, all captures'),
    hasModel: flows.col('predicted_app') >= 0,
    hasProfiles: src.profiles !== undefined,
    reports: src.reports.map((r, i) => ({ id: i, name: r.name, tasks: r.results.length })),
  }));
  app.get<{ Querystring: Record<string, string> }>('/api/flows', async (req) => {
    const q = req.query;
    const query: FlowQuery = { capture: str(q.capture), q: str(q.q), app: str(q.app), protocol: int(q.protocol), sort: str(q.sort), desc: q.desc === '1' || q.desc === 'true', offset: int(q.offset), limit: int(q.limit) };
    return flows.query(query);
  });
  app.get<{ Querystring: Record<string, string> }>('/api/timeline', async (req) => {
    const by = req.query.by === 'action' ? 'action' : 'app';
    const capture = str(req.query.capture);
    const t = flows.timeline(by, capture);
    return { ...t, spec: timelineSpec(t.points, t.binMs, by, `flows by ${by} over time${capture ? `: ${capture}` : ''}`) };
  });

  app.get('/api/profiles', async (_req, reply) => {
    if (!src.profiles) return reply.code(404).send({ error: 'no profile store (serve --db)' });
    return { users: await src.profiles.listUsers() };
  });
  app.get<{ Params: { id: string } }>('/api/profiles/:id', async (req, reply) => {
    if (!src.profiles) return reply.code(404).send({ error: 'no profile store (serve --db)' });
    const p = await src.profiles.profile(req.params.id);
    if (!p) return reply.code(404).send({ error: `no profile for user ${req.params.id}` });
    return { profile: p, traits: traitSpec(p.predictions, 'trait probabilities'), usage: usageSpec(p.usage, 'evidence: usage counts the models read') };
  });

  app.get('/api/reports', async () => ({ reports: src.reports.map((r, i) => ({ id: i, name: r.name, files: r.files ?? [] })) }));
  app.get<{ Params: { id: string } }>('/api/reports/:id', async (req, reply) => {
    const r = src.reports[Number(req.params.id)];
    if (!r) return reply.code(404).send({ error: 'no such report' });
    return {
      name: r.name,
      tasks: r.results.map((t) => ({
        model: t.model,
        task: t.task,
        split: t.split,
        rows: t.rows,
        accuracy: t.accuracy,
        macroF1: t.macroF1,
        macroF1Ci: t.macroF1Ci,
        perClass: t.perClass,
        confusion: confusionSpec(t.classes, t.confusion, `${t.model}, ${t.task}: confusion`),
        scores: perClassSpec(t.perClass, `${t.model}, ${t.task}: per class`),
      })),
    };
  });
  return app;
}

/** Read an `evaluate --report` file. */
export function loadReport(path: string): EvaluationReport {
  let r: { files?: string[]; results?: TaskResult[] };
  try {
    r = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new Error(`${path}: cannot read the evaluation report: ${(e as Error).message}`);
  }
  if (!Array.isArray(r.results)) throw new Error(`${path}: not an evaluate --report file (no "results")`);
  return { name: path.split('/').pop() ?? path, files: r.files, results: r.results };
}
