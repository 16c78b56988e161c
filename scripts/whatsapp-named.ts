/**
 * The share of each shared WhatsApp Web capture's bytes in flows named WhatsApp, by the evidence allowed:
 * first-hand names only, + learned server addresses, + IP ownership lists (the README's table).
 *   node --import tsx scripts/whatsapp-named.ts [DATASET_DIR]
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { AppMatcher, loadAppRules, withoutIpLists } from '../src/features/apps.js';
import { extractFlows, flowColumns, learnAddresses } from '../src/meter/meter.js';

const dir = process.argv[2] ?? join(import.meta.dirname, '../../shared/datasets/whatsapp-web-actions');
const rules = loadAppRules();
const withLists = new AppMatcher(rules);
const noLists = new AppMatcher(withoutIpLists(rules));
const cols = flowColumns(undefined, true).map((c) => c.name);
const at = (n: string) => cols.indexOf(n);

async function share(file: string, apps: AppMatcher, learn: boolean) {
  let total = 0;
  let named = 0;
  let records = 0;
  let operator = 0;
  const byEvidence = new Map<string, number>();
  await extractFlows(
    file,
    (r) => {
      records++;
      const b = Number(r[at('bytes')]);
      total += b;
      if (r[at('app')] === 'Meta') operator += b;
      if (r[at('app')] === 'WhatsApp') {
        named += b;
        const e = String(r[at('app_evidence')]);
        byEvidence.set(e, (byEvidence.get(e) ?? 0) + 1);
      }
    },
    { apps, addresses: learn ? await learnAddresses(file, apps) : undefined },
  );
  return { records, share: total === 0 ? 0 : named / total, operator: total === 0 ? 0 : operator / total, byEvidence };
}

const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
console.log('| capture | records | first-hand names only | with learned addresses | with IP lists too | records named by addr / ip-list | named only Meta (operator list) |');
console.log('|---|---:|---:|---:|---:|---:|---:|');
for (const f of readdirSync(dir).filter((f) => /\.pcap(ng)?$/.test(f)).sort()) {
  const file = join(dir, f);
  const a = await share(file, noLists, false);
  const b = await share(file, noLists, true);
  const c = await share(file, withLists, true);
  console.log(`| ${f.replace(/\.pcap(ng)?$/, '')} | ${a.records} | ${pct(a.share)} | ${pct(b.share)} | ${pct(c.share)} | ${c.byEvidence.get('addr') ?? 0} / ${c.byEvidence.get('ip-list') ?? 0} | ${pct(c.operator)} |`);
}
