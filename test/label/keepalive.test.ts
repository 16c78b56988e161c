import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { AppMatcher, loadAppRules } from '../../src/features/apps.js';
import { KEEPALIVE_RULE } from '../../src/label/keepalive.js';
import { labelCapture, labeledColumns } from '../../src/label/label-capture.js';
import type { CellValue } from '../../src/flow/schema.js';
import { SHARED, haveTshark, tshark } from '../helpers/tshark.js';

const DATA = join(SHARED, 'datasets/whatsapp-web-actions');

/**
 * The keep-alive rule recomputed from tshark's packets: the capture's longest TCP connection cut into bursts at
 * silences of 1 s or more, each burst's packets and payload per direction, then the rule's two conditions.
 */
function tsharkKeepalives(file: string): { bursts: number; keepalive: boolean[] } {
  const lines = tshark(['-r', file, '-Y', 'tcp', '-T', 'fields', '-e', 'tcp.stream', '-e', 'frame.time_epoch', '-e', 'tcp.srcport', '-e', 'tcp.len', '-e', 'tcp.flags.syn'])
    .split('\n')
    .filter(Boolean)
    .map((l) => l.split('\t'));
  const byStream = new Map<string, string[][]>();
  for (const l of lines) byStream.set(l[0], [...(byStream.get(l[0]) ?? []), l]);
  const cut = (packets: string[][]) => {
    const out: Array<{ fp: number; bp: number; fb: number; bb: number }> = [];
    let last = -Infinity;
    for (const [, t, sport, len] of packets) {
      const time = Number(t);
      if (time - last >= 1) out.push({ fp: 0, bp: 0, fb: 0, bb: 0 });
      last = time;
      const b = out[out.length - 1];
      if (sport === '443') (b.bp++, (b.bb += Number(len)));
      else (b.fp++, (b.fb += Number(len)));
    }
    return out;
  };
  // The message connection: the one with the most bursts.
  const bursts = [...byStream.values()].map(cut).sort((a, b) => b.length - a.length)[0];
  const r = KEEPALIVE_RULE;
  const small = bursts.map((b) => b.fp <= r.maxPacketsEachWay && b.bp <= r.maxPacketsEachWay && b.fb + b.bb > 0 && b.fb <= r.maxPayloadEachWay && b.bb <= r.maxPayloadEachWay);
  const count = new Map<string, number>();
  bursts.forEach((b, i) => small[i] && count.set(`${b.fb}|${b.bb}`, (count.get(`${b.fb}|${b.bb}`) ?? 0) + 1));
  return { bursts: bursts.length, keepalive: bursts.map((b, i) => small[i] && count.get(`${b.fb}|${b.bb}`)! >= r.minRepeats) };
}

describe('keep-alive bursts', () => {
  const have = existsSync(DATA) && haveTshark();
  for (const [name, action] of [
    ['userA-text-messages.pcapng', 'text'],
    ['userB-text-messages.pcap', 'text'],
    ['userB-photos.pcap', 'picture'],
  ]) {
    it(`${name}: the message connection's keep-alive bursts are the ones tshark's packets say`, { skip: have ? false : 'needs ../shared/datasets and tshark' }, async () => {
      const file = join(DATA, name);
      const cols = labeledColumns().map((c) => c.name);
      const rows: CellValue[][] = [];
      const actions = [{ user: 'capture', device: 'capture', app: 'WhatsApp', action, startNs: 0n, endNs: 2n ** 63n, scenario: 'capture-action', repetition: 0, seq: 0 }];
      const r = await labelCapture(file, actions, { apps: new AppMatcher(loadAppRules()), extract: { flow: { lengthMode: 'payload' } } }, (row) => rows.push([...row]));
      const at = (n: string) => cols.indexOf(n);
      // The message connection: the flow with the most segments.
      const segs = new Map<unknown, CellValue[][]>();
      for (const row of rows) segs.set(row[at('flow_id')], [...(segs.get(row[at('flow_id')]) ?? []), row]);
      const main = [...segs.values()].sort((a, b) => b.length - a.length)[0].sort((a, b) => Number(a[at('segment')]) - Number(b[at('segment')]));
      const expected = tsharkKeepalives(file);
      assert.equal(main.length, expected.bursts, 'bursts');
      const ours = main.map((row) => row[at('label_action')] === 'keepalive');
      assert.deepEqual(ours, expected.keepalive);
      assert.ok(ours.filter(Boolean).length >= 5, 'several keep-alives');
      for (const row of main) assert.equal(row[at('label_action')], ours[main.indexOf(row)] ? 'keepalive' : action);
      assert.equal(r.report.byAction.keepalive, rows.filter((x) => x[at('label_action')] === 'keepalive').length);
    });
  }
});
