/**
 * Screenshots of the dashboard's main views for docs/ (shown in the README), from the bundled data only:
 *
 *   node --import tsx scripts/screenshots.ts [--out docs] [--report EVAL.json]
 *
 * Flows and timelines: the WhatsApp Web captures, labeled with their actions (so the action timeline has truth to
 * show). Evaluation: a random forest evaluated on those labels. Profiles: synthetic classified flows of six users,
 * four of them with traits, naive Bayes trained and predicted (the WhatsApp set has two users, too few to train on). Chromium is Debian's.
 * --report shows another evaluate --report file instead (the README's comes from the paper-mini testbed run,
 * whose Table 2 the README shows).
 */
import { mkdirSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { AppMatcher, loadAppRules } from '../src/features/apps.js';
import { openDb } from '../src/profile/db.js';
import { PseudonymKey } from '../src/profile/pseudonym.js';
import { ProfileStore } from '../src/profile/store.js';
import { buildDashboard, loadReport, newToken } from '../src/server/app.js';
import { loadFlowStore } from '../src/server/flow-store.js';
import { classifiedCsv } from '../test/helpers/classified.js';
import { cli, labelWhatsApp } from '../test/helpers/cli.js';
import { CHROMIUM, CHROMIUM_ARGS } from '../test/helpers/chromium.js';
import { SHARED } from '../test/helpers/tshark.js';

const args = process.argv.slice(2);
const out = args.includes('--out') ? args[args.indexOf('--out') + 1] : 'docs';
const dir = mkdtempSync(join(tmpdir(), 'cipherscope-shots-'));
const data = join(SHARED, 'datasets/whatsapp-web-actions');
const labels = new Map<string, string>([
  ['userA-text-messages.pcapng', 'text'],
  ['userA-pictures.pcapng', 'picture'],
  ['userA-same-video-repeated.pcapng', 'video'],
  ['userA-mixed-actions.pcapng', 'mixed'],
]);
const labeled = labelWhatsApp(data, dir, [...labels].filter(([f]) => readdirSync(data).includes(f)));
const evalJson = join(dir, 'eval.json');
if (cli(['evaluate', ...labeled, '--models', 'rf', '--folds', '2', '--report', evalJson]).status !== 0) throw new Error('evaluate failed');
const keyFile = join(dir, 'key');
writeFileSync(keyFile, '34'.repeat(32) + '\n', { mode: 0o600 });
const db = join(dir, 'profiles.db');
const classified = join(dir, 'classified.csv');
classifiedCsv(classified, 900, 6);
const users = join(dir, 'users.csv');
writeFileSync(users, 'user,gender,age_group,profession\ndevice:10.1.0.0,f,18-29,student\ndevice:10.1.0.1,m,18-29,student\ndevice:10.1.0.2,f,65+,retired\ndevice:10.1.0.3,m,65+,retired\n');
for (const a of [['ingest', classified], ['train', '--users', users], ['predict']]) if (cli(['profile', ...a, '--db', db, '--key-file', keyFile]).status !== 0) throw new Error(`profile ${a[0]} failed`);

const captures = readdirSync(data).filter((f) => f.endsWith('.pcapng')).map((f) => join(data, f));
const flows = await loadFlowStore([...captures, ...labeled], { apps: new AppMatcher(loadAppRules()) });
const profiles = await ProfileStore.open(await openDb(db), PseudonymKey.load(keyFile));
const token = newToken();
const report = args.includes('--report') ? args[args.indexOf('--report') + 1] : evalJson;
const app = buildDashboard({ flows, profiles, reports: [loadReport(report)] }, token);
const base = await app.listen({ host: '127.0.0.1', port: 0 });
const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
const page = await browser.newPage({ viewport: { width: 1280, height: 860 } });
await page.goto(`${base}/?token=${token}`);
mkdirSync(out, { recursive: true });
const firstUser = (await profiles.listUsers(1))[0].userId;
const views: Array<[string, string]> = [
  ['captures', '#/'],
  ['flows', '#/flows?capture=userA-four-groups-mixed.pcapng&sort=bytes&desc=1'],
  ['timeline', '#/timeline?by=action&capture=mixed.csv'],
  ['profile', `#/profile/${firstUser}`],
  ['evaluation', '#/report/0'],
];
for (const [name, hash] of views) {
  await page.goto(`${base}/${hash}`);
  await page.waitForSelector('main[aria-busy="false"]');
  await page.waitForTimeout(300);
  await page.screenshot({ path: join(out, `dashboard-${name}.png`), fullPage: false });
  process.stderr.write(`${out}/dashboard-${name}.png\n`);
}
await browser.close();
await app.close();
await profiles.close();
