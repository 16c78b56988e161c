import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type Browser, type Page, chromium } from 'playwright-core';
import { generate } from '../../bench/flows/generate.js';
import { AppMatcher, loadAppRules } from '../../src/features/apps.js';
import { openDb } from '../../src/profile/db.js';
import { PseudonymKey } from '../../src/profile/pseudonym.js';
import { ProfileStore } from '../../src/profile/store.js';
import { buildDashboard } from '../../src/server/app.js';
import { type FlowStore, loadFlowStore } from '../../src/server/flow-store.js';
import { classifiedCsv } from '../helpers/classified.js';
import { CHROMIUM, CHROMIUM_ARGS } from '../helpers/chromium.js';
import { cli } from '../helpers/cli.js';
import { flowsOf } from '../helpers/flows.js';
import { learnAddresses } from '../../src/meter/meter.js';
import { SHARED } from '../helpers/tshark.js';
import { tempDir } from '../helpers/temp.js';

/**
 * The dashboard in real headless Chromium (Debian's chromium through playwright-core): a real capture's flows, a
 * filter and a search that narrow the table, paging over a capture of 20,000 flows, a profile's trait
 * probabilities, and the token on every request.
 */
const skip = !existsSync(CHROMIUM) && process.env.CI !== 'true' ? 'Debian chromium not installed (scripts/setup.sh installs it)' : false;

describe('cipherscope serve in headless Chromium', { skip }, () => {
  const dir = tempDir('cipherscope-dashboard-');
  const token = 'test-token-0123456789abcdef';
  const whatsapp = join(SHARED, 'datasets/whatsapp-web-actions/userA-four-groups-mixed.pcapng');
  const many = join(dir, 'many-flows.pcap');
  let base = '';
  let close: () => Promise<void>;
  let browser: Browser;
  let flows: FlowStore;
  let profiles: ProfileStore;
  const db = join(dir, 'profiles.db');
  const keyFile = join(dir, 'key');

  before(async () => {
    // 20,000 short UDP flows: the size of the bench capture's flow count in a small file.
    generate(many, 20_000, 600, 7, 1);
    writeFileSync(keyFile, 'ab'.repeat(32) + '\n', { mode: 0o600 });
    const classified = join(dir, 'classified.csv');
    classifiedCsv(classified, 600, 6);
    const users = join(dir, 'users.csv');
    writeFileSync(users, 'user,gender,age_group,profession\ndevice:10.1.0.0,f,18-29,student\ndevice:10.1.0.1,m,18-29,student\ndevice:10.1.0.2,f,65+,retired\ndevice:10.1.0.3,m,65+,retired\n');
    for (const args of [['ingest', classified], ['train', '--users', users], ['predict']]) {
      const r = cli(['profile', ...args, '--db', db, '--key-file', keyFile]);
      assert.equal(r.status, 0, r.stderr);
    }
    flows = await loadFlowStore([whatsapp, many], { apps: new AppMatcher(loadAppRules()) });
    profiles = await ProfileStore.open(await openDb(db), PseudonymKey.load(keyFile));
    const app = buildDashboard({ flows, profiles, reports: [] }, token);
    base = await app.listen({ host: '127.0.0.1', port: 0 });
    close = async () => {
      await app.close();
      await profiles.close();
    };
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  });
  after(async () => {
    await browser?.close();
    await close?.();
  });

  /** A page signed in the way a user is: the printed address with ?token=, which sets the cookie. */
  async function signedIn(): Promise<Page> {
    const page = await browser.newPage();
    const r = await page.goto(`${base}/?token=${token}`);
    assert.equal(r?.status(), 200);
    assert.equal(new URL(page.url()).search, '', 'the token leaves the address bar');
    return page;
  }
  const settled = (page: Page) => page.waitForSelector('main[aria-busy="false"]');

  it('refuses every page, asset and API call without the token', async () => {
    for (const path of ['/', '/app.js', '/vendor/vega.min.js', '/api/flows', '/api/profiles', `/?token=wrong-token-0123456789`]) {
      const r = await fetch(base + path);
      assert.equal(r.status, 401, path);
      assert.doesNotMatch(await r.text(), /WhatsApp|10\.1\.0/);
    }
    const page = await browser.newPage();
    const r = await page.goto(`${base}/`);
    assert.equal(r?.status(), 401);
    await page.close();
    const ok = await fetch(`${base}/api/flows?limit=1`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(ok.status, 200);
  });

  it("loads a real capture's flows, and a filter and a search narrow the table", async () => {
    const page = await signedIn();
    await settled(page);
    assert.match(await page.textContent('[data-testid=captures]') ?? '', /userA-four-groups-mixed\.pcapng[\s\S]*13 flows/);
    const matcher = new AppMatcher(loadAppRules());
    const { rows } = await flowsOf(whatsapp, { apps: matcher, addresses: await learnAddresses(whatsapp, matcher) });
    assert.equal(rows.length, 13);
    await page.goto(`${base}/#/flows?capture=userA-four-groups-mixed.pcapng`);
    await settled(page);
    assert.equal(await page.locator('[data-testid=flows-table] tbody tr').count(), 13);
    assert.match((await page.textContent('[data-testid=flow-count]')) ?? '', /of 13$/);
    // Protocols by name, as Wireshark's Protocol column; times in the viewer's zone with UTC beside; no device address.
    const head = await page.locator('[data-testid=flows-table] thead th').allTextContents();
    const protoCells = await page.locator(`[data-testid=flows-table] tbody tr td:nth-child(${head.indexOf('protocol') + 1})`).allTextContents();
    assert.deepEqual([...new Set(protoCells)].sort(), [...new Set(rows.map((r) => ({ 6: 'TCP', 17: 'UDP' })[r.protocol as number] ?? ''))].sort());
    const timeCell = await page.locator(`[data-testid=flows-table] tbody tr:first-child td:nth-child(${head.indexOf('first_seen_ns') + 1})`).textContent();
    assert.match(timeCell ?? '', /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \(\d\d:\d\d:\d\d UTC\)$/);
    const clientCells = await page.locator(`[data-testid=flows-table] tbody tr td:nth-child(${head.indexOf('client_addr') + 1})`).allTextContents();
    assert.ok(clientCells.every((c) => /^device-\d+$/.test(c)), clientCells.join(' '));

    // The app filter: only the flows the host rules name WhatsApp (here every flow: the one without a handshake is
    // named by its server address); the search below narrows.
    const whatsappFlows = rows.filter((r) => r.app === 'WhatsApp');
    assert.ok(whatsappFlows.length > 0);
    await page.selectOption('[data-testid=flow-filters] select[name=app]', 'WhatsApp');
    await page.click('[data-testid=flow-filters] button');
    await page.waitForFunction(`document.querySelectorAll('[data-testid=flows-table] tbody tr').length === ${whatsappFlows.length}`);
    const apps = await page.locator('[data-testid=flows-table] tbody tr td:last-child').allTextContents();
    assert.deepEqual(new Set(apps), new Set(['WhatsApp']));

    // Search: one SNI, the flows that carry it.
    const sni = whatsappFlows.find((r) => typeof r.tls_sni === 'string')!.tls_sni as string;
    const withSni = rows.filter((r) => Object.values(r).some((v) => typeof v === 'string' && v.toLowerCase().includes(sni.toLowerCase())));
    await page.fill('[data-testid=flow-search]', sni);
    await page.click('[data-testid=flow-filters] button');
    await page.waitForFunction(`document.querySelector('[data-testid=flow-count]')?.textContent?.endsWith('of ${withSni.length}')`);
    assert.equal(await page.locator('[data-testid=flows-table] tbody tr').count(), withSni.length);
    await page.close();
  });

  it('pages through 20,000 flows: the page holds one page of rows, and the last page is reachable', async () => {
    const page = await signedIn();
    await page.goto(`${base}/#/flows?capture=many-flows.pcap`);
    await settled(page);
    const total = flows.captures.find((c) => c.name === 'many-flows.pcap')!.flows;
    assert.ok(total >= 19_900, `${total} flows`);
    assert.equal(await page.locator('[data-testid=flows-table] tbody tr').count(), 100);
    assert.match((await page.textContent('[data-testid=flow-count]')) ?? '', new RegExp(`rows 1–100 of ${total.toLocaleString('en-US')}`));
    const last = Math.floor((total - 1) / 100);
    await page.goto(`${base}/#/flows?capture=many-flows.pcap&page=${last}&sort=bytes&desc=1`);
    await settled(page);
    await page.waitForFunction(`document.querySelector('[data-testid=flow-count]')?.textContent?.includes('of ${total.toLocaleString('en-US')}')`);
    assert.equal(await page.locator('[data-testid=flows-table] tbody tr').count(), total - last * 100);
    // Sorted by bytes, descending: the last page ends with the smallest flow of the capture.
    const bytesCol = flows.col('bytes');
    const smallest = Math.min(...flows.rows.filter((r) => r[flows.col('capture')] === 'many-flows.pcap').map((r) => Number(r[bytesCol])));
    const header = await page.locator('[data-testid=flows-table] thead th').allTextContents();
    const cells = await page.locator('[data-testid=flows-table] tbody tr:last-child td').allTextContents();
    assert.equal(Number(cells[header.indexOf('bytes')]), smallest);
    await page.close();
  });

  it("shows a profile's trait probabilities, as the store has them", async () => {
    const page = await signedIn();
    await page.goto(`${base}/#/profiles`);
    await settled(page);
    assert.equal(await page.locator('[data-testid=profiles] tbody tr').count(), 6);
    await page.click('[data-testid=profiles] tbody tr:first-child a');
    await page.waitForSelector('[data-testid=trait-predictions]');
    await settled(page);
    const id = decodeURIComponent(page.url().split('#/profile/')[1]);
    const p = (await profiles.profile(id))!;
    assert.ok(p.predictions.length >= 3);
    const trs = page.locator('[data-testid=trait-predictions] tbody tr');
    const shown: string[][] = [];
    for (let i = 0; i < (await trs.count()); i++) shown.push(await trs.nth(i).locator('td').allTextContents());
    assert.deepEqual(
      shown,
      p.predictions.map((r) => [r.model, r.trait, r.value, r.probability.toFixed(3)]),
    );
    // Per model and trait, the probabilities sum to 1.
    const sums = new Map<string, number>();
    for (const r of p.predictions) sums.set(`${r.model}/${r.trait}`, (sums.get(`${r.model}/${r.trait}`) ?? 0) + r.probability);
    for (const [k, s] of sums) assert.ok(Math.abs(s - 1) < 1e-9, `${k}: ${s}`);
    // The charts drew (SVG from Vega-Lite).
    await page.waitForSelector('#traits svg');
    await page.close();
  });
});
