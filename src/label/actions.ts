import { closeSync, openSync, readFileSync, writeSync } from 'node:fs';

/**
 * The action log: one scripted user action per line of JSON Lines, written while the capture runs.
 *
 * ```json
 * {"user":"u1","device":"chromium-1","app":"Social","action":"post_text","start_ns":"1763900000123456789",
 *  "end_ns":"1763900001987654321","scenario":"paper-mini","repetition":3,"seq":17}
 * ```
 *
 * - `start_ns` / `end_ns`: nanoseconds since the Unix epoch, from the clock the capture uses (same host), taken
 *   just before the action's first step and just after its last step finished (the app confirmed it). Written as
 *   strings of digits because a JSON number of 19 digits loses precision in JavaScript and most JSON readers;
 *   plain integers are read exactly too.
 * - `app` names an app of the host rules (rules/apps.json or the testbed's rules); `action` is the class label.
 * - `user`, `device`: pseudonymous ids; `scenario`, `repetition` (0-based count of this action class for this
 *   user), `seq` (0-based position in the whole log).
 * - Optional `client_addr`: the device's address, when several devices are captured at once; flows from other
 *   clients then never match the action.
 */
export interface ActionRecord {
  user: string;
  device: string;
  app: string;
  action: string;
  startNs: bigint;
  endNs: bigint;
  scenario: string;
  repetition: number;
  seq: number;
  clientAddr?: string;
}

export class ActionLogError extends Error {}

const NS_FIELD = (name: string) => new RegExp(`"${name}"\\s*:\\s*(?:"(\\d{1,20})"|(\\d{1,20}))\\s*[,}]`);
const START = NS_FIELD('start_ns');
const END = NS_FIELD('end_ns');

/** Parse one line; `where` names the file and line in errors. */
export function parseAction(line: string, where: string): ActionRecord {
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(line) as Record<string, unknown>;
  } catch (e) {
    throw new ActionLogError(`${where}: not JSON: ${(e as Error).message}`);
  }
  if (typeof o !== 'object' || o === null || Array.isArray(o)) throw new ActionLogError(`${where}: an action must be a JSON object`);
  const str = (k: string, required = true): string => {
    const v = o[k];
    if (typeof v === 'string' && v.length > 0) return v;
    if (!required && v === undefined) return '';
    throw new ActionLogError(`${where}: "${k}" must be a non-empty string`);
  };
  const int = (k: string): number => {
    const v = o[k] ?? 0;
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw new ActionLogError(`${where}: "${k}" must be a non-negative integer`);
    return v;
  };
  // Read the timestamps from the text, not from JSON.parse, so 19-digit integers stay exact.
  const ns = (re: RegExp, k: string): bigint => {
    const m = re.exec(line);
    if (m === null || o[k] === undefined) throw new ActionLogError(`${where}: "${k}" must be nanoseconds since the epoch (a string of digits or an integer)`);
    return BigInt(m[1] ?? m[2]);
  };
  const startNs = ns(START, 'start_ns');
  const endNs = ns(END, 'end_ns');
  if (endNs < startNs) throw new ActionLogError(`${where}: end_ns is before start_ns`);
  const a: ActionRecord = {
    user: str('user'),
    device: str('device'),
    app: str('app'),
    action: str('action'),
    startNs,
    endNs,
    scenario: str('scenario', false),
    repetition: int('repetition'),
    seq: int('seq'),
  };
  const client = str('client_addr', false);
  if (client) a.clientAddr = client;
  return a;
}

/** Read a whole action log; blank lines are skipped, anything else malformed is an error naming file and line. */
export function readActionLog(path: string): ActionRecord[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new ActionLogError(`${path}: cannot read the action log: ${(e as Error).message}`);
  }
  const out: ActionRecord[] = [];
  text.split('\n').forEach((line, i) => {
    if (line.trim() !== '') out.push(parseAction(line, `${path}:${i + 1}`));
  });
  return out;
}

export function actionJson(a: ActionRecord): string {
  return JSON.stringify({
    user: a.user,
    device: a.device,
    app: a.app,
    action: a.action,
    start_ns: a.startNs.toString(),
    end_ns: a.endNs.toString(),
    scenario: a.scenario,
    repetition: a.repetition,
    seq: a.seq,
    ...(a.clientAddr ? { client_addr: a.clientAddr } : {}),
  });
}

/** Appends actions as they finish, one synchronous write each, so a crash loses at most the running action. */
export class ActionLogWriter {
  private readonly fd: number;
  count = 0;
  constructor(readonly path: string) {
    this.fd = openSync(path, 'w');
  }
  write(a: ActionRecord): void {
    writeSync(this.fd, actionJson(a) + '\n');
    this.count++;
  }
  close(): void {
    closeSync(this.fd);
  }
}
