import { networkInterfaces } from 'node:os';
import { checkOutputPath, writeFileAtomic } from '../common/atomic-file.js';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { collect, count as int, reportErrors } from './args.js';
import { AppMatcher, loadAppRules } from '../features/apps.js';
import { loadFlowClassifier } from '../pipeline/classifier.js';
import { openProfileStore } from '../profile/open.js';
import type { LoadOptions } from '../server/flow-store.js';

// The server modules pull in fastify, Vega and Vega-Lite: loaded only when serve or report runs, so every other
// command starts without them (they cost a metering run half a second of start-up and garbage collection).
const server = () => import('../server/app.js');

interface SourceOptions {
  apps?: string | boolean;
  model?: string;
  db?: string;
  keyFile?: string;
  report: string[];
  showAddresses?: boolean;
}

const sourceOptions = (c: Command) =>
  c
    .argument('[inputs...]', 'captures (pcap, pcapng: metered here) and flow-record files (CSV, JSON Lines or Parquet from flows, label or classify)')
    .option('--show-addresses', "show the devices' own addresses (client_addr); by default each is shown as device-N")
    .option('--apps [rules.json]', 'name apps by host rules (default: the shipped rules/apps.json); on unless --no-apps', true)
    .option('--no-apps', 'no host-rule app columns')
    .option('--model <dir>', 'classify the captures\' flows with this trained model (predicted app and action)')
    .option('--db <file|url>', 'a profile store to show (SQLite file or postgresql://...)')
    .option('--key-file <file>', 'the pseudonym key of --db')
    .option('--report <eval.json>', 'an evaluate --report file (repeatable)', collect, []);

/** The flows, profiles and evaluation reports that serve and report show. */
async function loadSources(inputs: string[], o: SourceOptions) {
  const load: LoadOptions = {
    apps: o.apps === false ? undefined : new AppMatcher(loadAppRules(typeof o.apps === 'string' ? o.apps : undefined)),
    onCapture: (name, s) => process.stderr.write(`cipherscope: ${name}: ${s.packets} packets, ${s.records} flow records\n`),
    showAddresses: o.showAddresses === true,
  };
  if (o.model) load.classifier = await loadFlowClassifier(o.model, undefined, load.apps !== undefined);
  const { loadFlowStore } = await import('../server/flow-store.js');
  const flows = await loadFlowStore(inputs, load);
  // The dashboard only reads the store: a --db that is not there is an error, not a new empty store.
  const profiles = o.db ? (await openProfileStore({ db: o.db, keyFile: o.keyFile, existing: true })).store : undefined;
  const { loadReport } = await server();
  const reports = o.report.map(loadReport);
  return { flows, profiles, reports };
}

export function addServeCommands(program: Command): void {
  sourceOptions(program.command('serve'))
    .description('A dashboard in the browser: captures, a paged flows table (filter, sort, search), timelines by app and action, user profiles with trait probabilities, evaluation reports. Every page and API call needs the token.')
    .option('--host <addr>', 'address to listen on (loopback by default: the data is sensitive)', '127.0.0.1')
    .option('--port <n>', 'port (0: any free port)', int, 8080)
    .option('--token <token>', 'the access token (default: $CIPHERSCOPE_TOKEN, else a random one printed at start)')
    .action((inputs: string[], o) =>
      reportErrors(async () => {
        const { buildDashboard, newToken } = await server();
        const token: string = o.token ?? process.env.CIPHERSCOPE_TOKEN ?? newToken();
        if (token.length < 16) throw new Error('--token: use at least 16 characters');
        const sources = await loadSources(inputs, o);
        const app = buildDashboard(sources, token);
        const address = await app.listen({ host: o.host, port: o.port });
        const loopback = o.host === 'localhost' || o.host === '::1' || /^127\./.test(o.host);
        if (!loopback) process.stderr.write(`cipherscope: warning: --host ${o.host}: the dashboard (flows, device addresses, profiles) is reachable from other machines, behind its token only; anyone who can read the network can read it (no TLS)\n`);
        // On an unspecified bind Fastify names 127.0.0.1; the URL others would use is an interface's own address.
        const port = new URL(address).port;
        const everywhere = o.host === '0.0.0.0' || o.host === '::';
        const urls = everywhere
          ? Object.values(networkInterfaces())
              .flat()
              .filter((a) => a !== undefined && !a.internal && (o.host === '::' || a.family === 'IPv4'))
              .map((a) => `http://${a!.family === 'IPv6' ? `[${a!.address}]` : a!.address}:${port}`)
          : [address];
        const query = `/?token=${encodeURIComponent(token)}`;
        process.stderr.write(`cipherscope: dashboard at ${(urls[0] ?? address) + query}${urls.length > 1 ? ` (also ${urls.slice(1).join(', ')})` : ''}\n`);
        const stop = async () => {
          await app.close();
          await sources.profiles?.close();
          process.exit(0);
        };
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      }),
    );

  sourceOptions(program.command('report'))
    .description('Write the dashboard\'s views as one self-contained HTML file (charts as inline SVG), and optionally each chart as an .svg file.')
    .requiredOption('-o, --output <file.html>', 'the HTML report')
    .option('--svg-dir <dir>', 'also write every chart here as an .svg file')
    .option('--title <text>', 'report title', 'cipherscope report')
    .option('--top-flows <n>', 'flows listed, largest first', int, 50)
    .option('--max-profiles <n>', 'profiles shown, most streams first', int, 20)
    .action((inputs: string[], o) =>
      reportErrors(async () => {
        checkOutputPath(o.output); // before the captures are metered
        const sources = await loadSources(inputs, o);
        try {
          const { reportHtml } = await import('../server/report.js');
          const { html, charts } = await reportHtml({ ...sources, title: o.title, topFlows: o.topFlows, maxProfiles: o.maxProfiles });
          writeFileAtomic(o.output, html);
          if (o.svgDir) {
            mkdirSync(o.svgDir, { recursive: true });
            for (const c of charts) writeFileAtomic(join(o.svgDir, `${c.name.replace(/[^\w.-]+/g, '_')}.svg`), c.svg);
          }
          process.stderr.write(`cipherscope: report written to ${o.output} (${charts.length} charts${o.svgDir ? `, also in ${o.svgDir}` : ''})\n`);
        } finally {
          await sources.profiles?.close();
        }
      }),
    );
}
