import { createRequire } from 'node:module';
import type cliProgress from 'cli-progress';

/**
 * cli-progress is loaded when a bar is shown (on a terminal), not at every start: about 7 ms of start-up, which a
 * study's many small captures run from scripts and pipes pay for nothing.
 */
const loadCliProgress = (): typeof cliProgress => createRequire(import.meta.url)('cli-progress') as typeof cliProgress;

/** A byte-progress bar on stderr when it is a terminal; silent in pipes, CI and with --no-progress. */
export class Progress {
  private bar: cliProgress.SingleBar | undefined;
  private last = 0;

  constructor(
    private readonly label: string,
    enabled: boolean,
  ) {
    if (enabled && process.stderr.isTTY && !process.env.CI) {
      const bars = loadCliProgress();
      this.bar = new bars.SingleBar(
        { stream: process.stderr, format: `${label} [{bar}] {percentage}% | {value}/{total} MB | {eta_formatted} left`, hideCursor: true, clearOnComplete: true },
        bars.Presets.shades_classic,
      );
    }
  }

  update = (bytes: number, total: number | undefined): void => {
    if (this.bar === undefined || total === undefined) return;
    const now = Date.now();
    if (now - this.last < 100) return;
    this.last = now;
    const mb = (n: number) => Math.round(n / 1e5) / 10;
    if (this.last !== 0 && !this.started) {
      this.bar.start(mb(total), 0);
      this.started = true;
    }
    this.bar.update(mb(bytes));
  };

  private started = false;

  stop(): void {
    if (this.started) this.bar?.stop();
  }
}

/** One status line rewritten in place on a terminal (long training loops); nothing in pipes, CI or when disabled. */
export class StatusLine {
  private readonly on: boolean;
  private last = 0;
  constructor(enabled = true) {
    this.on = enabled && process.stderr.isTTY === true && !process.env.CI;
  }
  show(text: string): void {
    if (!this.on) return;
    const now = Date.now();
    if (now - this.last < 200) return;
    this.last = now;
    process.stderr.write(`\r\x1b[K${text}`);
  }
  clear(): void {
    if (this.on) process.stderr.write('\r\x1b[K');
  }
}
