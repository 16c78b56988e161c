import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { ROOT, cli, labelWhatsApp } from '../helpers/cli.js';
import { SHARED, tshark } from '../helpers/tshark.js';

const dir = mkdtempSync(join(tmpdir(), 'cipherscope-live-'));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('cipherscope live', () => {
  it('meters real loopback traffic as it happens: idle flows come out on a timer, Ctrl-C writes the rest, all as tshark sees the same packets', { timeout: 90_000 }, async () => {
    const server = createServer((_, res) => res.end(Buffer.alloc(5_000, 1)));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const port = (server.address() as { port: number }).port;
    const out = join(dir, 'live.jsonl');
    const copy = join(dir, 'copy.pcapng');
    const live = spawn(process.execPath, ['--import', 'tsx', resolve(ROOT, 'src/cli/run.ts'), 'live', '-i', 'lo', '--tool', 'dumpcap', '-f', `tcp port ${port}`, '--copy', copy, '-o', out, '--idle-timeout', '2', '--tcp-close-grace', '1'], { cwd: ROOT });
    let err = '';
    live.stderr.on('data', (d: Buffer) => (err += d.toString()));
    while (!/live on lo/.test(err)) {
      if (live.exitCode !== null) throw new Error(err);
      await sleep(100);
    }
    await sleep(500);
    const get = (i: number) => fetch(`http://127.0.0.1:${port}/${i}`, { headers: { connection: 'close' } }).then((r) => r.arrayBuffer());
    for (let i = 0; i < 15; i++) await get(i);
    // No packet after this: only the timer can end these flows (close grace 1 s, idle 2 s), and records are flushed
    // every second.
    await sleep(4500);
    const early = readFileSync(out, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l));
    assert.equal(early.length, 15, `records before any new packet: ${early.length}\n${err}`);
    for (let i = 15; i < 20; i++) await get(i);
    await sleep(300);
    live.kill('SIGINT');
    const code = await new Promise<number | null>((r) => live.once('close', r));
    server.close();
    assert.equal(code, 0, err);
    const rows = readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    assert.equal(rows.length, 20, err);
    assert.deepEqual(rows.slice(0, 15), early, 'what was written early stays as it was');
    // The same packets, as tshark sees them: one TCP conversation per request, the same frames each.
    const frames = new Map<number, number>();
    for (const l of tshark(['-r', copy, '-Y', `tcp.port==${port}`, '-T', 'fields', '-e', 'tcp.srcport', '-e', 'tcp.dstport']).trim().split('\n')) {
      const [a, b] = l.split('\t').map(Number);
      const client = a === port ? b : a;
      frames.set(client, (frames.get(client) ?? 0) + 1);
    }
    assert.equal(frames.size, 20);
    for (const r of rows) assert.equal(r.packets, frames.get(r.client_port), `client port ${r.client_port}`);
    assert.match(err, /live: \d+ packets, 20 flows, 20 records/);
  });

  it('with a model and a profile store: each flow classified as it ends, counted into the device\'s profile on Ctrl-C', { timeout: 120_000 }, async () => {
    const data = join(SHARED, 'datasets/whatsapp-web-actions');
    const labeled = labelWhatsApp(data, dir, [
      ['userA-text-messages.pcapng', 'text'],
      ['userA-pictures.pcapng', 'picture'],
    ]);
    const model = join(dir, 'model');
    assert.equal(cli(['train', ...labeled, '--model', model]).status, 0);
    const keyFile = join(dir, 'key');
    writeFileSync(keyFile, 'cd'.repeat(32) + '\n');
    const db = join(dir, 'live.db');
    const server = createServer((_, res) => res.end(Buffer.alloc(3_000, 2)));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const port = (server.address() as { port: number }).port;
    const out = join(dir, 'classified.csv');
    const live = spawn(process.execPath, ['--import', 'tsx', resolve(ROOT, 'src/cli/run.ts'), 'live', '-i', 'lo', '-f', `tcp port ${port}`, '-o', out, '--model', model, '--db', db, '--key-file', keyFile], { cwd: ROOT });
    let err = '';
    live.stderr.on('data', (d: Buffer) => (err += d.toString()));
    while (!/live on lo/.test(err)) {
      if (live.exitCode !== null) throw new Error(err);
      await sleep(100);
    }
    await sleep(500);
    for (let i = 0; i < 10; i++) await fetch(`http://127.0.0.1:${port}/${i}`, { headers: { connection: 'close' } }).then((r) => r.arrayBuffer());
    await sleep(300);
    live.kill('SIGINT');
    assert.equal(await new Promise<number | null>((r) => live.once('close', r)), 0, err);
    server.close();
    const lines = readFileSync(out, 'utf8').trim().split('\n');
    assert.equal(lines[0].split(',').slice(-4).join(','), 'predicted_app,app_probability,predicted_action,action_probability');
    assert.equal(lines.length, 11);
    const show = cli(['profile', 'show', 'device:127.0.0.1', '--db', db, '--key-file', keyFile]);
    assert.equal(show.status, 0, show.stderr);
    const p = JSON.parse(show.stdout);
    assert.equal(p.streams, 10);
    assert.equal(Object.values(p.usage.app as Record<string, number>).reduce((a, b) => a + b, 0), 10);
  });
});
