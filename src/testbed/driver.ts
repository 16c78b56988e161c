import { type ChildProcess, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { remote } from 'webdriverio';
import { TESTBED_PORT, pageUrl } from './apps.js';
import type { Scenario, Step } from './scenario.js';
import { type Dist, draw } from './shapes.js';

/**
 * Scenario steps over the WebDriver protocol (webdriverio). The same code talks to chromedriver for the built-in
 * testbed and to an Appium server (UiAutomator2) for a phone: a session is opened on a WebDriver URL with the
 * scenario's capabilities, and steps are element operations by selector.
 */

type Browser = Awaited<ReturnType<typeof remote>>;

export const CHROMIUM_FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];

const WORDS = 'the a photo friends today look new great time love morning coffee city trip home weekend music work happy video best team game night food walk park sun rain book movie family share'.split(' ');

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => resolve(typeof a === 'object' && a !== null ? a.port : 0));
    });
  });
}

/** chromedriver as a local WebDriver server on a free loopback port. */
export class ChromeDriverServer {
  private constructor(
    readonly url: string,
    private readonly child: ChildProcess,
  ) {}

  /**
   * `netns`: run it (and so the browser it starts) inside a device's network namespace, answering on that device's
   * management address `host` for the root namespace's `client` address only.
   */
  static async start(binary = '/usr/bin/chromedriver', netns?: { ns: string; host: string; client: string }): Promise<ChromeDriverServer> {
    const port = netns ? 9515 : await freePort();
    const args = [`--port=${port}`, `--allowed-ips=${netns?.client ?? '127.0.0.1'}`];
    const child = netns ? spawn('ip', ['netns', 'exec', netns.ns, binary, ...args], { stdio: ['ignore', 'pipe', 'pipe'] }) : spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const url = `http://${netns?.host ?? '127.0.0.1'}:${port}/`;
    const until = Date.now() + 15_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`${binary} exited with status ${child.exitCode}`);
      try {
        const r = await fetch(`${url}status`);
        if (r.ok) break;
      } catch {
        // not listening yet
      }
      if (Date.now() > until) {
        child.kill('SIGKILL');
        throw new Error(`${binary} did not answer on ${url} within 15 s`);
      }
      await sleep(100);
    }
    return new ChromeDriverServer(url, child);
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null) return;
    const done = new Promise((r) => this.child.once('exit', r));
    this.child.kill('SIGTERM');
    await done;
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export class StepRunner {
  private handles = new Map<string, string>();

  private constructor(
    readonly browser: Browser,
    private readonly scenario: Scenario,
    private readonly random: () => number,
    private readonly tmpDir: string,
    private readonly port: number,
  ) {}

  /** Open a session on a WebDriver server (chromedriver, Appium). */
  static async connect(webdriverUrl: string, capabilities: Record<string, unknown>, scenario: Scenario, random: () => number, tmpDir: string, testbedPort = TESTBED_PORT): Promise<StepRunner> {
    const u = new URL(webdriverUrl);
    const browser = await remote({
      protocol: u.protocol.replace(':', '') as 'http' | 'https',
      hostname: u.hostname,
      port: Number(u.port) || (u.protocol === 'https:' ? 443 : 80),
      path: u.pathname || '/',
      logLevel: 'error',
      connectionRetryCount: 1,
      capabilities: capabilities as WebdriverIO.Capabilities,
    });
    return new StepRunner(browser, scenario, random, tmpDir, testbedPort);
  }

  /** An integer from the runner's seeded generator: a range or a log-normal (shapes.ts). */
  between(d: Dist): number {
    return draw(d, this.random);
  }

  private target(page: string): string {
    const v = this.scenario.pages[page] ?? page;
    if (/^https?:/.test(v)) return v;
    return this.scenario.target === 'testbed' ? pageUrl(v, this.port) : v;
  }

  /**
   * Open every page once (web: one tab each, so switching later sends nothing and long-lived connections stay up
   * as in an app that runs in the background).
   */
  async openPages(pages: readonly string[]): Promise<void> {
    for (const [i, page] of pages.entries()) {
      const t = this.target(page);
      if (!/^https?:/.test(t)) {
        await this.browser.activateApp(t);
        continue;
      }
      if (i === 0) await this.browser.url(t);
      else await this.browser.newWindow(t);
      this.handles.set(page, await this.browser.getWindowHandle());
    }
  }

  /** Bring a page (tab or app) to the front. */
  async show(page: string): Promise<void> {
    const h = this.handles.get(page);
    if (h !== undefined) await this.browser.switchToWindow(h);
    else if (!/^https?:/.test(this.target(page))) await this.browser.activateApp(this.target(page));
    else await this.open(page);
  }

  private async open(page: string): Promise<void> {
    await this.browser.url(this.target(page));
    this.handles.set(page, await this.browser.getWindowHandle());
  }

  async run(step: Step): Promise<void> {
    const b = this.browser;
    if ('open' in step) return this.open(step.open);
    if ('click' in step) return (await b.$(step.click)).click();
    if ('type' in step) {
      const n = this.between(step.words);
      const text = Array.from({ length: n }, () => WORDS[Math.floor(this.random() * WORDS.length)]).join(' ');
      return (await b.$(step.type)).setValue(text);
    }
    if ('upload' in step) {
      const size = this.between(step.bytes);
      const data = Buffer.alloc(size);
      for (let i = 0; i < size; i++) data[i] = (this.random() * 256) | 0;
      data.set([0xff, 0xd8, 0xff, 0xe0], 0); // a JPEG's first bytes; the rest is noise of the chosen size
      const file = join(this.tmpDir, `upload-${size}.jpg`);
      writeFileSync(file, data);
      return (await b.$(step.upload)).setValue(file);
    }
    if ('waitFor' in step) {
      const re = new RegExp(step.text);
      const el = await b.$(step.waitFor);
      let last = '';
      await b.waitUntil(
        async () => {
          last = await el.getText();
          return re.test(last);
        },
        { timeout: step.timeoutMs ?? 30_000, interval: 50, timeoutMsg: `waited for ${step.waitFor} to match /${step.text}/; it shows "${last}"` },
      );
      if (/^error/.test(last)) throw new Error(`${step.waitFor}: ${last}`);
      return;
    }
    await sleep(this.between(step.pause));
  }

  async close(): Promise<void> {
    await this.browser.deleteSession();
  }
}
