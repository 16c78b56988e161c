import assert from 'node:assert/strict';
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { join, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { ROOT, cli, trainWhatsAppModel } from '../helpers/cli.js';
import { SHARED, tshark } from '../helpers/tshark.js';
import { tempDir } from '../helpers/temp.js';

const dir = tempDir('cipherscope-live-');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** An HTTP server on loopback answering every request with `bytes` bytes; resolves with its port. */
async function httpServer(bytes: number): Promise<{ port: number; close(): void }> {
  const server = createServer((_, res) => res.end(Buffer.alloc(bytes, 1)));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return { port: (server.address() as { port: number }).port, close: () => server.close() };
}

/** `cipherscope live` on lo with these arguments, resolved once it says it is capturing. */
async function startLive(args: string[]): Promise<{ proc: ChildProcess; err(): string }> {
  const proc = spawn(process.execPath, ['--import', 'tsx', resolve(ROOT, 'src/cli/run.ts'), 'live', '-i', 'lo', ...args], { cwd: ROOT });
  let err = '';
  proc.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  while (!/live on lo/.test(err)) {
    if (proc.exitCode !== null) throw new Error(err);
    await sleep(100);
  }
  await sleep(500);
  return { proc, err: () => err };
}

describe('cipherscope live', () => {
  it('a capture tool that dies is an error: the records so far are written, the exit status is not 0', { timeout: 60_000 }, async () => {
    const server = await httpServer(100);
    const out = join(dir, 'live-died.jsonl');
    // A filter of its own, so this run's dumpcap is the one found below.
    const filter = `tcp port ${server.port} and not port 9`;
    const { proc: live, err } = await startLive(['--tool', 'dumpcap', '-f', filter, '-o', out, '--idle-timeout', '1', '--tcp-close-grace', '1']);
    for (let i = 0; i < 3; i++) await fetch(`http://127.0.0.1:${server.port}/${i}`, { headers: { connection: 'close' } }).then((r) => r.arrayBuffer());
    await sleep(3000);
    const pid = execFileSync('pgrep', ['-f', '-n', `dumpcap.*${server.port} and not port 9`], { encoding: 'utf8' }).trim();
    process.kill(Number(pid), 'SIGKILL');
    const code = await new Promise<number | null>((r) => live.once('close', r));
    server.close();
    assert.equal(code, 1, err());
    assert.match(err(), /live: error: dumpcap .* ended by itself \(killed by SIGKILL\)/);
    assert.equal(readFileSync(out, 'utf8').trim().split('\n').filter(Boolean).length, 3, 'the records up to then');
  });

  // With --threads 2 the same flows come from the sharded meter: the timer ticks run on the worker threads.
  for (const threads of [1, 2]) {
    it(`meters real loopback traffic as it happens (${threads} thread${threads > 1 ? 's' : ''}): idle flows come out on a timer, Ctrl-C writes the rest, all as tshark sees the same packets`, { timeout: 90_000 }, async () => {
      const server = await httpServer(5_000);
      const port = server.port;
      const out = join(dir, `live-${threads}.jsonl`);
      const copy = join(dir, `copy-${threads}.pcapng`);
      const { proc: live, err: liveErr } = await startLive(['--tool', 'dumpcap', '-f', `tcp port ${port}`, '--copy', copy, '-o', out, '--idle-timeout', '2', '--tcp-close-grace', '1', '--threads', String(threads)]);
      const get = (i: number) => fetch(`http://127.0.0.1:${port}/${i}`, { headers: { connection: 'close' } }).then((r) => r.arrayBuffer());
      for (let i = 0; i < 15; i++) await get(i);
      // No packet after this: only the timer can end these flows (close grace 1 s, idle 2 s), and records are flushed
      // every second.
      await sleep(4500);
      const early = readFileSync(out, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l));
      assert.equal(early.length, 15, `records before any new packet: ${early.length}\n${liveErr()}`);
      for (let i = 15; i < 20; i++) await get(i);
      await sleep(300);
      live.kill('SIGINT');
      const code = await new Promise<number | null>((r) => live.once('close', r));
      server.close();
      assert.equal(code, 0, liveErr());
      const rows = readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
      assert.equal(rows.length, 20, liveErr());
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
      assert.match(liveErr(), /live: \d+ packets, 20 flows, 20 records/);
    });
  }

  it('a capture replayed through a pipe (old timestamps, faster than real time) gives the records of `flows` on the file, on 1 and 2 threads', { timeout: 90_000 }, async () => {
    const file = join(SHARED, 'datasets/whatsapp-web-actions/userA-four-groups-mixed.pcapng');
    // Without the capture and flow id columns: "<stdin>" against the path, and ids numbered per shard.
    const body = (csv: string) =>
      csv
        .trim()
        .split('\n')
        .slice(1)
        .map((l) => l.split(',').slice(2).join(','))
        .sort();
    const want = cli(['flows', '-q', file, '-o', '-']);
    assert.equal(want.status, 0, want.stderr);
    assert.ok(body(want.stdout).length > 10);
    for (const threads of ['1', '2']) {
      const live = cli(['live', '-', '-o', '-', '--threads', threads], readFileSync(file));
      assert.equal(live.status, 0, live.stderr);
      assert.deepEqual(body(live.stdout), body(want.stdout), `${threads} thread(s)`);
    }
    const names = 'client_addr,server_port,packets,tls_sni,bwd_bytes';
    const cut = cli(['live', '-', '-o', '-', '--columns', names], readFileSync(file));
    assert.equal(cut.status, 0, cut.stderr);
    const flowsCut = cli(['flows', '-q', file, '--columns', names]);
    const lines = (t: string) => t.trim().split('\n');
    assert.equal(lines(cut.stdout)[0], names);
    assert.deepEqual(lines(cut.stdout).slice(1).sort(), lines(flowsCut.stdout).slice(1).sort());
  });

  it('with a model and a profile store: each flow classified as it ends, counted into the device\'s profile on Ctrl-C', { timeout: 120_000 }, async () => {
    const data = join(SHARED, 'datasets/whatsapp-web-actions');
    const model = trainWhatsAppModel(data, dir);
    const keyFile = join(dir, 'key');
    writeFileSync(keyFile, 'cd'.repeat(32) + '\n');
    const db = join(dir, 'live.db');
    const server = await httpServer(3_000);
    const port = server.port;
    const out = join(dir, 'classified.csv');
    const { proc: live, err: liveErr } = await startLive(['-f', `tcp port ${port}`, '-o', out, '--model', model, '--db', db, '--key-file', keyFile]);
    for (let i = 0; i < 10; i++) await fetch(`http://127.0.0.1:${port}/${i}`, { headers: { connection: 'close' } }).then((r) => r.arrayBuffer());
    await sleep(300);
    live.kill('SIGINT');
    assert.equal(await new Promise<number | null>((r) => live.once('close', r)), 0, liveErr());
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
