import type { FlowPlugin } from '../flow/flow.js';

/**
 * The feature-plugin registry: every plugin `flows --features` can name, built-in or a user's own, is one entry
 * here (nfstream passes plugins as objects; Zeek registers analyzers by name). An entry is plain data plus a factory,
 * so a worker thread can build the same plugins from names: it imports the entry's `module` first, which registers
 * it in that thread too.
 */

/** Settings the plugins read. Plain data only: it crosses to the shard worker threads. */
export interface PluginOptions {
  /** Groups to run besides the always-on ones, by registered name (default: the entries that are on by default). */
  groups?: readonly string[];
  /** Packets in the SPLT sequence columns (splt). */
  spltPackets?: number;
  /** Payload bytes per direction counted in the byte distribution (bytes). */
  byteDistBytes?: number;
  /** Settings of other registered plugins, by their name. */
  settings?: Readonly<Record<string, unknown>>;
}

export interface PluginEntry {
  /** The name `--features` takes (and the group name in PluginOptions). */
  name: string;
  /** One line for `--features` help and docs/architecture.md. */
  description: string;
  /** Run when no groups are given. */
  defaultOn: boolean;
  /** Run whatever groups are given (the packet statistics): not a group to choose. */
  always?: boolean;
  /**
   * URL of the module that registers this entry (its `import.meta.url`). A shard worker imports it before it builds
   * its plugins; a plugin without one can only run on the main thread. Built-ins need none (workers load them).
   */
  module?: string;
  /** A new plugin for one capture (plugins may keep capture-wide state). */
  create(o: PluginOptions): FlowPlugin;
  /** Shipped with cipherscope (features/plugins.ts): its columns come before those of plugins of one's own. */
  builtin?: boolean;
}

const entries = new Map<string, PluginEntry>();

/**
 * Add a plugin kind. A second entry under a name replaces the first only when both come from the same module (a
 * module loaded again under another URL); a built-in is never replaced.
 */
export function registerPlugin(entry: PluginEntry): void {
  const had = entries.get(entry.name);
  if (had !== undefined && (had.builtin === true || had.module !== entry.module)) throw new Error(`a feature plugin named "${entry.name}" is already registered`);
  if (!/^[a-z][a-z0-9-]*$/.test(entry.name) || entry.name === 'all' || entry.name === 'none') throw new Error(`feature plugin name "${entry.name}": lower-case letters, digits and "-", not "all" or "none"`);
  entries.set(entry.name, entry);
}

/**
 * Every registered entry in column order: the built-ins in their order, then the others in registration order, so
 * the columns do not depend on which module a thread happened to import first.
 */
export function pluginEntries(): PluginEntry[] {
  const all = [...entries.values()];
  return [...all.filter((e) => e.builtin === true), ...all.filter((e) => e.builtin !== true)];
}

/** Names a user can choose: on by default, or only when named. */
export function pluginGroups(which: 'default' | 'optional' | 'all'): string[] {
  return pluginEntries()
    .filter((e) => !e.always && (which === 'all' || e.defaultOn === (which === 'default')))
    .map((e) => e.name);
}

/** The entries a run uses: the always-on ones and the chosen groups, in column order; unknown names are an error. */
export function chosenEntries(o: PluginOptions = {}): PluginEntry[] {
  const groups = o.groups ?? pluginGroups('default');
  for (const g of groups) {
    const e = entries.get(g);
    if (e === undefined || e.always) throw new Error(`unknown feature group "${g}"; choose from ${pluginGroups('all').join(', ')}`);
  }
  const on = new Set(groups);
  return pluginEntries().filter((e) => e.always || on.has(e.name));
}

/** New plugins for one capture, in column order. */
export function flowPlugins(o: PluginOptions = {}): FlowPlugin[] {
  return chosenEntries(o).map((e) => e.create(o));
}

/** Modules a worker thread must import to build the same plugins as flowPlugins(o). */
export function pluginModules(o: PluginOptions = {}): string[] {
  return [...new Set(chosenEntries(o).flatMap((e) => (e.module === undefined ? [] : [e.module])))];
}

/**
 * The groups (besides the default ones in `o`) whose plugins write some of `columns`: what a trained model's
 * feature list asks the meter for at classify time. A name `col[i]` (one element of a list column) counts as `col`.
 */
export function groupsForColumns(columns: readonly string[], o: PluginOptions = {}): string[] {
  const want = new Set(columns.map((c) => c.replace(/\[\d+\]$/, '')));
  const groups = new Set(o.groups ?? pluginGroups('default'));
  for (const e of pluginEntries()) {
    if (e.always || groups.has(e.name)) continue;
    if (e.create(o).columns.some((c) => want.has(c.name))) groups.add(e.name);
  }
  return [...groups];
}
