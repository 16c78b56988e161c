import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Dist, isDist } from './shapes.js';

/**
 * A scenario: which actions to script, how often, and the WebDriver steps of each. One format drives the built-in
 * testbed (Chromium through chromedriver) and real phones (an Appium server with UiAutomator2): the steps are
 * WebDriver element operations either way; only selectors and `open` targets differ. Documented in
 * docs/ground-truth.md.
 */
export type { Dist, Range } from './shapes.js';

export type Step =
  /** Navigate: a testbed page name, a URL, or (Appium) an app package to activate. Setup only, outside actions. */
  | { open: string }
  | { click: string }
  /** Type random words (count drawn from the distribution: a range or a log-normal, shapes.ts) into the element. */
  | { type: string; words: Dist }
  /** Put a file of random bytes (size drawn from the distribution; JPEG header) into a file input. Web targets only. */
  | { upload: string; bytes: Dist }
  /** Wait until the element's text matches the regular expression. */
  | { waitFor: string; text: string; timeoutMs?: number }
  | { pause: Dist };

export interface ScenarioAction {
  /** App name as the host rules name it. */
  app: string;
  action: string;
  /** The page / app screen the action happens on (a key of `pages`). */
  page: string;
  steps: Step[];
}

export interface Scenario {
  name: string;
  about?: string;
  /** 'testbed': the built-in apps in headless Chromium; 'webdriver': any WebDriver server (Appium, chromedriver). */
  target: 'testbed' | 'webdriver';
  /** Simulated users, each a fresh browser profile (or app session). */
  users: number;
  /** Actions of each class in the whole run, spread over the users. */
  repetitions: number;
  /** Think time before each action (ms): a range or a log-normal (shapes.ts). */
  thinkMs: Dist;
  /** Page / screen name -> URL, testbed page name, or app package. */
  pages: Record<string, string>;
  /** Host rules file (relative to the scenario file) naming the apps; default: the testbed's rules. */
  rules?: string;
  /** WebDriver capabilities for target 'webdriver' (e.g. Appium's platformName, appium:automationName). */
  capabilities?: Record<string, unknown>;
  actions: ScenarioAction[];
}

export const SCENARIO_DIR = join(dirname(fileURLToPath(import.meta.url)), '../../scenarios');

export class ScenarioError extends Error {}

function checkStep(s: unknown, where: string): Step {
  if (typeof s !== 'object' || s === null) throw new ScenarioError(`${where}: a step must be an object`);
  const o = s as Record<string, unknown>;
  const str = (k: string) => typeof o[k] === 'string' && (o[k] as string).length > 0;
  if (str('open') || str('click')) return o as Step;
  if (str('type') && isDist(o.words)) return o as Step;
  if (str('upload') && isDist(o.bytes)) return o as Step;
  if (str('waitFor') && typeof o.text === 'string') {
    try {
      new RegExp(o.text);
    } catch {
      throw new ScenarioError(`${where}: waitFor text is not a regular expression`);
    }
    return o as Step;
  }
  if (isDist(o.pause)) return o as Step;
  throw new ScenarioError(`${where}: unknown step ${JSON.stringify(s)}; steps are open, click, type+words, upload+bytes, waitFor+text, pause (words, bytes, pause: [min, max] or {"lognormal": {"median", "sigma"}, "min", "max"})`);
}

export function parseScenario(text: string, where: string): Scenario {
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(text) as Record<string, unknown>;
  } catch (e) {
    throw new ScenarioError(`${where}: not JSON: ${(e as Error).message}`);
  }
  const need = (ok: boolean, what: string) => {
    if (!ok) throw new ScenarioError(`${where}: ${what}`);
  };
  need(typeof o.name === 'string' && o.name.length > 0, '"name" must be a non-empty string');
  need(o.target === 'testbed' || o.target === 'webdriver', '"target" must be "testbed" or "webdriver"');
  need(Number.isInteger(o.users) && (o.users as number) >= 1, '"users" must be an integer >= 1');
  need(Number.isInteger(o.repetitions) && (o.repetitions as number) >= 1, '"repetitions" must be an integer >= 1');
  need(isDist(o.thinkMs), '"thinkMs" must be [min, max] or {"lognormal": {"median", "sigma"}, "min", "max"}');
  need(typeof o.pages === 'object' && o.pages !== null, '"pages" must map page names to URLs or app packages');
  need(Array.isArray(o.actions) && o.actions.length > 0, '"actions" must be a non-empty list');
  const pages = o.pages as Record<string, string>;
  const actions = (o.actions as unknown[]).map((a, i) => {
    const w = `${where}: actions[${i}]`;
    const x = a as Record<string, unknown>;
    if (typeof x.app !== 'string' || typeof x.action !== 'string' || typeof x.page !== 'string' || !Array.isArray(x.steps)) throw new ScenarioError(`${w}: needs app, action, page and steps`);
    if (!(x.page in pages)) throw new ScenarioError(`${w}: page "${x.page}" is not in "pages"`);
    return { app: x.app, action: x.action, page: x.page, steps: x.steps.map((s, j) => checkStep(s, `${w}.steps[${j}]`)) };
  });
  return { ...(o as unknown as Scenario), actions };
}

/** A scenario by file path, or by name from the shipped scenarios/ folder. */
export function loadScenario(nameOrPath: string): { scenario: Scenario; path: string } {
  const path = existsSync(nameOrPath) ? nameOrPath : join(SCENARIO_DIR, `${nameOrPath}.json`);
  if (!existsSync(path)) throw new ScenarioError(`no scenario "${nameOrPath}" (neither a file nor one of ${SCENARIO_DIR})`);
  return { scenario: parseScenario(readFileSync(path, 'utf8'), path), path };
}
