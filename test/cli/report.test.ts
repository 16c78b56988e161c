import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { ROOT, cli, labelWhatsApp, trainWhatsAppModel } from '../helpers/cli.js';
import { classifiedCsv } from '../helpers/classified.js';
import { SHARED, tsharkConversations } from '../helpers/tshark.js';
import { tempDir } from '../helpers/temp.js';

const dir = tempDir('cipherscope-report-');
const data = join(SHARED, 'datasets/whatsapp-web-actions');
const capture = join(data, 'userA-four-groups-mixed.pcapng');

describe('cipherscope report and serve', () => {
  it('report: one self-contained HTML file with the captures, charts as inline SVG, profiles and an evaluation; each chart also as .svg', { timeout: 120_000 }, () => {
    const labeled = labelWhatsApp(data, dir, [
      ['userA-text-messages.pcapng', 'text'],
      ['userA-pictures.pcapng', 'picture'],
    ]);
    const evalJson = join(dir, 'eval.json');
    assert.equal(cli(['evaluate', ...labeled, '--models', 'rf', '--folds', '2', '--report', evalJson]).status, 0);
    const keyFile = join(dir, 'key');
    writeFileSync(keyFile, '12'.repeat(32) + '\n', { mode: 0o600 });
    const db = join(dir, 'profiles.db');
    const classified = join(dir, 'classified.csv');
    classifiedCsv(classified, 200, 3);
    assert.equal(cli(['profile', 'ingest', classified, '--db', db, '--key-file', keyFile]).status, 0);
    const out = join(dir, 'report.html');
    const svgs = join(dir, 'svg');
    const r = cli(['report', capture, '--db', db, '--key-file', keyFile, '--report', evalJson, '-o', out, '--svg-dir', svgs]);
    assert.equal(r.status, 0, r.stderr);
    const html = readFileSync(out, 'utf8');
    assert.doesNotMatch(html, /<script|src="http|href="http/, 'no script and no external resource');
    // The capture's flows: as many as tshark's TCP and UDP conversations (no timeouts split them in this capture).
    const conv = tsharkConversations(capture);
    const flows = Number(/userA-four-groups-mixed\.pcapng<\/td><td>capture<\/td><td class="n">(\d+)/.exec(html)?.[1]);
    assert.equal(flows, conv.tcp.length + conv.udp.length);
    const files = readdirSync(svgs).sort();
    assert.ok(files.includes('apps.svg') && files.includes('timeline-app.svg'), files.join(' '));
    assert.ok(files.some((f) => /confusion/.test(f)));
    for (const f of files) {
      const svg = readFileSync(join(svgs, f), 'utf8');
      assert.match(svg, /^<svg [^>]*xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
      assert.ok(html.includes(svg), `${f} is inline in the HTML`);
    }
    assert.equal((html.match(/<svg /g) ?? []).length, files.length);
    // The apps chart names what the host rules found; the evaluation's accuracy is printed as evaluate wrote it.
    assert.match(readFileSync(join(svgs, 'apps.svg'), 'utf8'), /WhatsApp/);
    const ev = JSON.parse(readFileSync(evalJson, 'utf8'));
    assert.ok(html.includes(`accuracy ${(100 * ev.results[0].accuracy).toFixed(1)}`));
    assert.equal((html.match(/<h3>u[0-9a-f]{31}<\/h3>/g) ?? []).length, 3, 'three pseudonymous users');
    assert.doesNotMatch(html, /10\.1\.0\.\d/, 'device addresses are not in the report');
    // A mistyped --db is named (the report only reads the store), and an HTML file that cannot be written is
    // refused before the capture is metered.
    const missing = cli(['report', capture, '--db', join(dir, 'typo.db'), '--key-file', keyFile, '-o', join(dir, 'typo.html')]);
    assert.equal(missing.status, 1);
    assert.match(missing.stderr, /typo\.db: no profile store there/);
    assert.equal(existsSync(join(dir, 'typo.db')), false);
    const nowhere = cli(['report', capture, '-o', join(dir, 'no-dir', 'r.html')]);
    assert.equal(nowhere.status, 1);
    assert.match(nowhere.stderr, /r\.html: cannot write it: the directory .*no-dir does not exist/);
    assert.doesNotMatch(nowhere.stderr, /packets/);
  });

  it('serve: prints its address with the token; without the token every request is refused; --model classifies the flows', { timeout: 90_000 }, async () => {
    const model = trainWhatsAppModel(data, dir);
    const p = spawn(process.execPath, ['--import', 'tsx', resolve(ROOT, 'src/cli/run.ts'), 'serve', capture, '--model', model, '--port', '0'], { cwd: ROOT });
    let err = '';
    p.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    try {
      for (let i = 0; i < 300 && !/dashboard at /.test(err); i++) await new Promise((r) => setTimeout(r, 100));
      const m = /dashboard at (http:\/\/127\.0\.0\.1:\d+)\/\?token=(\S+)/.exec(err);
      assert.ok(m, err);
      const [, base, token] = m;
      assert.ok(decodeURIComponent(token).length >= 32, 'a random token');
      assert.equal((await fetch(`${base}/api/captures`)).status, 401);
      assert.equal((await fetch(`${base}/api/captures`, { headers: { authorization: 'Bearer not-the-token-at-all' } })).status, 401);
      const ok = await fetch(`${base}/api/captures`, { headers: { authorization: `Bearer ${decodeURIComponent(token)}` } });
      assert.equal(ok.status, 200);
      const body = (await ok.json()) as { captures: Array<{ name: string; flows: number }>; hasModel: boolean };
      assert.equal(body.captures[0].name, 'userA-four-groups-mixed.pcapng');
      assert.equal(body.hasModel, true);
      // The model's predictions, as `classify` gives them for the same capture.
      const page = (await (await fetch(`${base}/api/flows?sort=first_seen_ns&limit=500`, { headers: { authorization: `Bearer ${decodeURIComponent(token)}` } })).json()) as { columns: string[]; rows: unknown[][] };
      const c = cli(['classify', capture, '--model', model, '-o', '-']);
      assert.equal(c.status, 0, c.stderr);
      const lines = c.stdout.trim().split('\n');
      const head = lines[0].split(',');
      const want = lines
        .slice(1)
        .map((l) => l.split(','))
        .sort((a, b) => (BigInt(a[head.indexOf('first_seen_ns')]) < BigInt(b[head.indexOf('first_seen_ns')]) ? -1 : 1))
        .map((r) => r[head.indexOf('predicted_app')]);
      assert.deepEqual(
        page.rows.map((r) => r[page.columns.indexOf('predicted_app')]),
        want,
      );
    } finally {
      p.kill('SIGTERM');
    }
  });
});
