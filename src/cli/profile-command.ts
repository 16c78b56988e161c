import { writeFileAtomic } from '../common/atomic-file.js';
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { count as int, reportErrors } from './args.js';
import type { ColumnDef } from '../flow/schema.js';
import { formatFromPath, openRecordWriter } from '../output/writers.js';
import { readRecords } from '../dataset/record-files.js';
import { flowColumns } from '../meter/meter.js';
import { BayesNet, type BayesNetJson, DEFAULT_NETWORK, NaiveBayes, type NaiveBayesJson, type NetworkStructure, checkStructure } from '../profile/bayes.js';
import { mean, sd } from '../profile/moments.js';
import type { PseudonymKey } from '../profile/pseudonym.js';
import { type StoreOptions, openProfileStore } from '../profile/open.js';
import { type Confusion, SIMULATION_DEFAULTS, curveMarkdown, curveSvg, learningCurve } from '../profile/simulate.js';
import { ProfileStore, TRAITS, type Trait, type UserProfile, classifiedFlows } from '../profile/store.js';
import { userResolver } from '../profile/users-from-actions.js';
import { readActionLog } from '../label/actions.js';
import { PREDICTION_COLUMNS } from '../models/predictions.js';

const DEFAULT_DB = 'profiles.db';

async function withStore<T>(o: StoreOptions, fn: (s: ProfileStore, key: PseudonymKey) => Promise<T>): Promise<T> {
  const { store, key } = await openProfileStore(o);
  try {
    return await fn(store, key);
  } finally {
    await store.close();
  }
}

/** Every profile in the store, in the order of its user ids (list and export). */
async function allProfiles(store: ProfileStore): Promise<UserProfile[]> {
  const out: UserProfile[] = [];
  for (const id of await store.userIds()) {
    const p = await store.profile(id);
    if (p) out.push(p);
  }
  return out;
}

/** A user on the command line: the pseudonymous id itself, device:ADDRESS, or id:OPERATOR_ID. */
function resolveUser(arg: string, key: PseudonymKey): string {
  if (arg.startsWith('device:')) return key.device(arg.slice(7));
  if (arg.startsWith('id:')) return key.operator(arg.slice(3));
  if (/^u[0-9a-f]{31}$/.test(arg)) return arg;
  throw new Error(`user ${arg}: give the pseudonymous id (u + 31 hex digits), device:ADDRESS or id:OPERATOR_ID`);
}

type TraitModel = { kind: 'naive-bayes'; traits: Record<string, NaiveBayesJson> } | BayesNetJson;

export function addProfileCommands(program: Command): void {
  const profile = program
    .command('profile')
    .description("User profiles (the paper's last stage): a store of per-user usage updated from classified flows, trait models (naive Bayes, a Bayesian network), and forgetting a user. Users are pseudonymous: a keyed hash (HMAC-SHA256) of the device address or of an operator-supplied id; the key lives in --key-file, outside the store.");
  const common = (c: Command) =>
    c
      .option('--db <file|url>', 'profile store: a SQLite file, or postgresql://user@host/db', DEFAULT_DB)
      .option('--key-file <file>', 'the pseudonym key (created, mode 600, when missing; default $CIPHERSCOPE_PROFILE_KEY_FILE or ~/.config/cipherscope/profile.key)');

  addSimulate(profile);

  common(profile.command('ingest'))
    .description('Count classified flows (cipherscope classify output, CSV) into the users\' profiles; every flow once, however often it is ingested; one transaction per file.')
    .argument('<classified...>', 'classify output files (.csv)')
    .option('--user <id>', 'all flows of these files belong to this operator-supplied user id (default: one user per device address, client_addr)')
    .option('--user-from <actions.jsonl>', "name each flow's user as the action log of its run does (the action overlapping it at its client address; else the log's user of that address; else its only user)")
    .option('--utc-offset <hours>', 'hours to add to UTC for the hour-of-day and day-of-week histograms', Number, 0)
    .option('--report-every <n>', 'print "ingest: N flows" on stderr after every N flows written (inside the transaction)', int)
    .action((files: string[], o) =>
      reportErrors(() =>
        withStore(o, async (store, key) => {
          if (o.user !== undefined && o.userFrom !== undefined) throw new Error('give --user or --user-from, not both');
          const fromLog = o.userFrom === undefined ? undefined : userResolver(readActionLog(o.userFrom));
          let unnamed = 0;
          const userOf = fromLog && ((addr: string, first: bigint, last: bigint) => fromLog(addr, first, last) ?? (unnamed++, undefined));
          const cols = [...flowColumns(), ...PREDICTION_COLUMNS];
          for (const f of files) {
            const t = await readRecords(f, cols);
            unnamed = 0;
            const flows = classifiedFlows(t.names, t.rows, key, f, o.user, userOf);
            if (unnamed > 0) process.stderr.write(`cipherscope: ${f}: ${unnamed} flow(s) the action log names no user for: counted under their device address\n`);
            let next = o.reportEvery ?? Infinity;
            const r = await store.ingest(flows, {
              utcOffsetHours: o.utcOffset,
              onChunk: (done) => {
                if (done >= next) {
                  process.stderr.write(`ingest: ${done} flows\n`);
                  next = done + o.reportEvery;
                }
              },
            });
            process.stderr.write(`cipherscope: ${f}: ${r.flows} flows, ${r.newFlows} new, ${r.users} users updated\n`);
          }
        }),
      ),
    );

  common(profile.command('train'))
    .description('Train trait models from a labeled users table (CSV: user,gender,age_group,profession; user as id:OPERATOR_ID, device:ADDRESS or a pseudonymous id; empty cells for unknown traits) and the users\' usage in the store.')
    .requiredOption('--users <file.csv>', 'labeled users table')
    .option('--model <kind>', 'nb (naive Bayes, one per trait) or bn (Bayesian network)', 'nb')
    .option('--network <file.json>', 'the network structure for bn: {"traits": [...], "parents": {"app": ["age_group"], ...}} (default: age_group -> app, gender -> action, profession -> hour and weekday)')
    .option('--name <name>', 'name of the model in the store (default: the kind)')
    .action((o) =>
      reportErrors(() =>
        withStore(o, async (store, key) => {
          if (o.model !== 'nb' && o.model !== 'bn') throw new Error(`--model ${o.model}: nb or bn`);
          const labels = readUsersTable(o.users, key);
          await store.setTraits(labels);
          const usage = await store.usageTokens();
          const users = labels.filter((u) => usage.has(u.userId)).map((u) => ({ ...u, tokens: usage.get(u.userId)! }));
          if (users.length === 0) throw new Error(`${o.users}: none of its users has a profile in ${o.db}`);
          for (const w of trainingWarnings(users)) process.stderr.write(`cipherscope: warning: ${w}\n`);
          let model: TraitModel;
          if (o.model === 'nb') {
            const traits: Record<string, NaiveBayesJson> = {};
            for (const t of TRAITS) {
              const known = users.filter((u) => u[t] !== undefined);
              if (known.length > 0) traits[t] = NaiveBayes.fit(t, known.map((u) => ({ tokens: u.tokens, value: u[t]! }))).model;
            }
            model = { kind: 'naive-bayes', traits };
          } else {
            const structure: NetworkStructure = o.network ? checkStructure(JSON.parse(readFileSync(o.network, 'utf8')), o.network) : DEFAULT_NETWORK;
            model = BayesNet.fit(structure, users.map((u) => ({ tokens: u.tokens, traits: Object.fromEntries(TRAITS.filter((t) => u[t] !== undefined).map((t) => [t, u[t]!])) }))).model;
          }
          const name = o.name ?? o.model;
          await store.saveModel(name, model.kind, { ...model, trainedUsers: users.length }, users.map((u) => u.userId));
          process.stderr.write(`cipherscope: ${name} (${model.kind}) trained on ${users.length} labeled users\n`);
        }),
      ),
    );

  common(profile.command('predict'))
    .description('Trait probabilities of users (all by default) from a trained model; stored in the profile and printed as JSON Lines.')
    .argument('[users...]', 'users (pseudonymous id, device:ADDRESS or id:OPERATOR_ID)')
    .option('--name <name>', 'model name', 'nb')
    .action((args: string[], o) =>
      reportErrors(() =>
        withStore({ ...o, existing: true }, async (store, key) => {
          const m = await store.loadModel(o.name);
          if (!m) throw new Error(`${o.db}: no trait model named ${o.name} (cipherscope profile train)`);
          const json = m.json as TraitModel & { trainedUsers?: number };
          if (json.trainedUsers !== undefined && json.trainedUsers < MIN_TRAINING_USERS) process.stderr.write(`cipherscope: warning: ${o.name} was trained on ${json.trainedUsers} user(s): its probabilities (near 0 and 1) say little\n`);
          const usage = await store.usageTokens();
          const ids = args.length > 0 ? args.map((a) => resolveUser(a, key)) : [...usage.keys()];
          const rows: Array<{ userId: string; trait: string; value: string; probability: number }> = [];
          for (const id of ids) {
            const tokens = usage.get(id);
            if (!tokens) throw new Error(`${o.db}: no profile for user ${id}`);
            const post: Record<string, Record<string, number>> =
              json.kind === 'bayes-net' ? new BayesNet(json).predict(tokens) : Object.fromEntries(Object.entries(json.traits).map(([t, nb]) => [t, new NaiveBayes(nb).predict(tokens)]));
            for (const [trait, p] of Object.entries(post)) for (const [value, probability] of Object.entries(p)) rows.push({ userId: id, trait, value, probability });
            // Printed to 4 decimals (stored exact): 0.82, not 0.8200000000000001; 7e-256 is 0.
            const shown = Object.fromEntries(Object.entries(post).map(([t, p]) => [t, Object.fromEntries(Object.entries(p).map(([v, x]) => [v, Math.round(x * 1e4) / 1e4]))]));
            process.stdout.write(JSON.stringify({ user: id, model: o.name, traits: shown }) + '\n');
          }
          await store.savePredictions(o.name, rows);
        }),
      ),
    );

  common(profile.command('show'))
    .description("One user's profile: streams, first and last seen, usage counts, stream statistics (mean and SD from count, sum and sum of squares), labels and trait probabilities, as JSON.")
    .argument('<user>', 'pseudonymous id, device:ADDRESS or id:OPERATOR_ID')
    .action((user: string, o) =>
      reportErrors(() =>
        withStore({ ...o, existing: true }, async (store, key) => {
          const p = await store.profile(resolveUser(user, key));
          if (!p) throw new Error(`${o.db}: no profile for user ${user}`);
          const stats = Object.fromEntries(Object.entries(p.stats).map(([k, m]) => [k, { ...m, mean: mean(m), sd: sd(m) }]));
          process.stdout.write(JSON.stringify({ ...p, stats }, null, 2) + '\n');
        }),
      ),
    );

  common(profile.command('list'))
    .description('One record per user: pseudonymous id, streams, first and last seen, the apps and actions counted (most first) and the labeled traits; the most recently seen user first. CSV, JSON Lines or Parquet, as flows writes them.')
    .option('-o, --output <file>', 'output (.csv, .jsonl, .parquet); - for standard output', '-')
    .action((o) =>
      reportErrors(() =>
        withStore({ ...o, existing: true }, async (store) => {
          const profiles = await allProfiles(store);
          profiles.sort((a, b) => (b.lastSeenS ?? 0) - (a.lastSeenS ?? 0) || (a.userId < b.userId ? -1 : 1));
          const counts = (m: Record<string, number> | undefined) =>
            Object.entries(m ?? {})
              .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
              .map(([k, n]) => `${k}:${n}`)
              .join(';') || null;
          // Seconds as the store keeps them (a double), to whole microseconds, as ns timestamps.
          const time = (s: number | null | undefined) => (s === null || s === undefined ? null : BigInt(Math.round(s * 1e6)) * 1000n);
          const w = openRecordWriter(formatFromPath(o.output), o.output, USER_LIST_COLUMNS);
          for (const p of profiles) {
            const traits = Object.entries(p.traits ?? {}).map(([k, v]) => `${k}=${v}`).join(';') || null;
            w.write([p.userId, p.streams, time(p.firstSeenS), time(p.lastSeenS), counts(p.usage.app), counts(p.usage.action), traits]);
          }
          await w.close();
        }),
      ),
    );

  common(profile.command('export'))
    .description('Every profile as JSON Lines (pseudonymous ids only).')
    .option('-o, --output <file>', 'output file; - for standard output', '-')
    .action((o) =>
      reportErrors(() =>
        withStore({ ...o, existing: true }, async (store) => {
          const lines = (await allProfiles(store)).map((p) => JSON.stringify(p));
          const text = lines.join('\n') + (lines.length > 0 ? '\n' : '');
          if (o.output === '-') process.stdout.write(text);
          else writeFileAtomic(o.output, text);
        }),
      ),
    );

  common(profile.command('forget'))
    .description('Remove every row of a user from every table of the store, and every trait model trained with the user (train them again). Re-ingesting captures of the user brings the user back: delete those too.')
    .argument('<user>', 'pseudonymous id, device:ADDRESS or id:OPERATOR_ID')
    .action((user: string, o) =>
      reportErrors(() =>
        withStore({ ...o, existing: true }, async (store, key) => {
          const id = resolveUser(user, key);
          const deleted = await store.forget(id);
          const total = Object.values(deleted).reduce((a, b) => a + b, 0);
          process.stderr.write(`cipherscope: forgot ${id}: ${Object.entries(deleted).map(([t, n]) => `${t} ${n}`).join(', ')}\n`);
          for (const n of store.forgetNotes) process.stderr.write(`cipherscope: warning: ${n}\n`);
          if (total === 0) throw new Error(`${o.db}: no rows of user ${id}`);
        }),
      ),
    );
}

function addSimulate(profile: Command): void {
  profile
    .command('simulate')
    .description("The documented simulation (src/profile/simulate.ts): naive Bayes telling a user's age group from the apps of the user's streams, against streams per user; population from Pew Research Center's Social Media Use in 2021; with a classifier's real confusion matrix when given.")
    .option('--confusion <eval.json>', 'an evaluate --report file: its grouped k-fold app confusion matrix turns true apps into classified ones')
    .option('--model <name>', 'which model of the report (RF, SVM, LSTM)', 'RF')
    .option('--users <n>', 'users in each of the training and test populations', int, SIMULATION_DEFAULTS.users)
    .option('--seed <n>', 'seed', int, 1)
    .option('--svg <file.svg>', 'write the learning curve as an SVG chart')
    .action((o) =>
      reportErrors(async () => {
        let confusion: Confusion | undefined;
        if (o.confusion) {
          const report = JSON.parse(readFileSync(o.confusion, 'utf8')) as { results: Array<{ model: string; task: string; split: string; classes: string[]; confusion: number[][] }> };
          const r = report.results.find((x) => x.model === o.model && x.task === 'app' && x.split === 'group-kfold');
          if (!r) throw new Error(`${o.confusion}: no grouped k-fold app result of model ${o.model}`);
          confusion = { classes: r.classes, matrix: r.confusion };
        }
        const points = learningCurve({ users: o.users, seed: o.seed, confusion });
        process.stdout.write(curveMarkdown(points));
        if (o.svg) writeFileAtomic(o.svg, curveSvg(points));
      }),
    );
}

/** The labeled users table. */
function readUsersTable(file: string, key: PseudonymKey): Array<{ userId: string } & Partial<Record<Trait, string>>> {
  const lines = readFileSync(file, 'utf8').split(/\r?\n/).filter((l) => l.trim() !== '');
  if (lines.length === 0) throw new Error(`${file}: empty`);
  const head = lines[0].split(',').map((h) => h.trim());
  const at = head.indexOf('user');
  if (at < 0) throw new Error(`${file}: no "user" column (columns: user,gender,age_group,profession)`);
  return lines.slice(1).map((l, i) => {
    const cells = l.split(',').map((c) => c.trim());
    if (cells.length !== head.length) throw new Error(`${file}:${i + 2}: ${cells.length} fields, the header has ${head.length}`);
    const u = cells[at];
    const userId = u.startsWith('device:') || u.startsWith('id:') || /^u[0-9a-f]{31}$/.test(u) ? resolveUser(u, key) : key.operator(u);
    const row: { userId: string } & Partial<Record<Trait, string>> = { userId };
    for (const t of TRAITS) {
      const j = head.indexOf(t);
      if (j >= 0 && cells[j] !== '') row[t] = cells[j];
    }
    return row;
  });
}

/** Fewer labeled users than this and a trait model's probabilities say little (the paper's had hundreds). */
export const MIN_TRAINING_USERS = 10;

/** What makes a trait model degenerate: too few users, or a trait every labeled user shares. */
export function trainingWarnings(users: ReadonlyArray<Partial<Record<(typeof TRAITS)[number], string>>>): string[] {
  const out: string[] = [];
  if (users.length < MIN_TRAINING_USERS) out.push(`trained on ${users.length} labeled user(s), fewer than ${MIN_TRAINING_USERS}: its trait probabilities will come out near 0 and 1 and say little`);
  for (const t of TRAITS) {
    const values = new Set(users.map((u) => u[t]).filter((v) => v !== undefined));
    if (values.size === 1) out.push(`trait ${t}: every labeled user has "${[...values][0]}": the model can only predict that`);
  }
  return out;
}

/** The columns of `profile list`. */
const USER_LIST_COLUMNS: ColumnDef[] = [
  { name: 'user', type: 'string', unit: '', identifier: true, description: 'Pseudonymous user id (keyed hash).' },
  { name: 'streams', type: 'int', unit: 'flows', description: 'Classified streams counted for the user.' },
  { name: 'first_seen', type: 'timestamp', unit: 'UTC', description: "The user's first stream (to the microsecond)." },
  { name: 'last_seen', type: 'timestamp', unit: 'UTC', description: "The user's latest stream (to the microsecond)." },
  { name: 'apps', type: 'string', unit: '', description: 'app:count pairs, most first, separated by ";".' },
  { name: 'actions', type: 'string', unit: '', description: 'app/action:count pairs, most first, separated by ";".' },
  { name: 'traits', type: 'string', unit: '', description: 'Labeled traits as trait=value, separated by ";"; empty when none.' },
];
