import { spawnSync } from 'node:child_process';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/** Run the CLI from source (no build needed), optionally feeding stdin. */
export function cli(args: string[], input?: Buffer): { status: number | null; stdout: string; stderr: string; stdoutBytes: Buffer } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', resolve(ROOT, 'src/cli/run.ts'), ...args], {
    cwd: ROOT,
    input,
    maxBuffer: 1 << 28,
    env: { ...process.env, CI: 'true' },
  });
  return { status: r.status, stdout: r.stdout.toString('utf8'), stderr: r.stderr.toString('utf8'), stdoutBytes: r.stdout };
}

/**
 * Label real WhatsApp Web captures of ../shared/datasets, each file as one action (label --capture-action), into
 * CSV files in `dir`; returns their paths.
 */
export function labelWhatsApp(dataDir: string, dir: string, files: ReadonlyArray<readonly [string, string]>, extra: string[] = [], prefix = ''): string[] {
  return files.map(([f, action]) => {
    const out = `${dir}/${prefix}${action}.csv`;
    const r = cli(['label', `${dataDir}/${f}`, '--capture-action', `WhatsApp/${action}`, ...extra, '-o', out, '-q']);
    if (r.status !== 0) throw new Error(`label ${f}: ${r.stderr}`);
    return out;
  });
}

/** A random forest model trained on two real WhatsApp Web captures (text and pictures), for commands that need one. */
export function trainWhatsAppModel(dataDir: string, dir: string): string {
  const labeled = labelWhatsApp(dataDir, dir, [
    ['userA-text-messages.pcapng', 'text'],
    ['userA-pictures.pcapng', 'picture'],
  ]);
  const model = `${dir}/model`;
  const r = cli(['train', ...labeled, '--model', model]);
  if (r.status !== 0) throw new Error(`train: ${r.stderr}`);
  return model;
}
