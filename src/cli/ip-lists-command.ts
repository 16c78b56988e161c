import { existsSync, readFileSync, statSync } from 'node:fs';
import { writeFileAtomic } from '../common/atomic-file.js';
import { dirname, join } from 'node:path';
import type { Command } from 'commander';
import { collect, reportErrors } from './args.js';
import { DEFAULT_RULES_PATH } from '../features/apps.js';
import { IpOwnerTable, type IpList, loadIpLists, refreshIpLists } from '../features/ip-lists.js';

/** The IP lists shipped beside rules/apps.json. */
export const DEFAULT_IP_LISTS_PATH = join(dirname(DEFAULT_RULES_PATH), 'ip-lists.json');

export function addIpListsCommands(program: Command): void {
  const cmd = program.command('ip-lists').description('The IP ownership lists that name flows by their server address (evidence ip-list): show, look up, refresh from a local copy of the sources.');
  cmd
    .command('show')
    .description('Each list: the app it names, its kind, how many prefixes, its source and date.')
    .option('--lists <file>', 'IP lists file', DEFAULT_IP_LISTS_PATH)
    .action((o) =>
      reportErrors(() => {
        const lists = loadIpLists(o.lists);
        const rows = lists.lists.map((l) => [l.app, l.kind, String(l.prefixes.length), l.source.date, l.source.name]);
        const w = [0, 1, 2, 3].map((i) => Math.max(...rows.map((r) => r[i].length), ['app', 'kind', 'prefixes', 'date'][i].length));
        const line = (r: string[]) => r.map((c, i) => (i < 4 ? (i === 2 ? c.padStart(w[i]) : c.padEnd(w[i])) : c)).join('  ');
        process.stdout.write([line(['app', 'kind', 'prefixes', 'date', 'source']), ...rows.map(line)].join('\n') + '\n');
      }),
    );
  cmd
    .command('lookup')
    .description('Which list holds each address, by longest prefix (as flows --apps names a flow with no other evidence).')
    .argument('<addresses...>', 'IPv4 or IPv6 addresses')
    .option('--lists <file>', 'IP lists file', DEFAULT_IP_LISTS_PATH)
    .action((addresses: string[], o) =>
      reportErrors(() => {
        const table = new IpOwnerTable(loadIpLists(o.lists).lists);
        for (const a of addresses) {
          const hit = table.lookup(a);
          process.stdout.write(`${a}\t${hit ? `${hit.app}\t${hit.kind}\t${hit.prefix}` : '-'}\n`);
        }
      }),
    );
  cmd
    .command('refresh')
    .description("Rebuild every list from its source file (each list's source.file), found under the --from directories (local copies of the sources, e.g. a checkout of Loyalsoldier/geoip's release branch); rewrites the lists file atomically.")
    .requiredOption('--from <dir>', 'a directory holding source files (repeatable; the first that has a file wins)', collect, [])
    .option('--lists <file>', 'IP lists file to rewrite', DEFAULT_IP_LISTS_PATH)
    .option('--file <app=path>', "use this file for one list (repeatable), e.g. --file 'WhatsApp=WhatsApp IPs (IPv4 Only).txt'", collect, [])
    .option('--date <YYYY-MM-DD>', "the date of the sources' data (default: the newest source file's modification date)")
    .option('--only <app>', 'refresh only this list (repeatable): sources of different dates are refreshed one by one', collect, [])
    .option('--commit <revision>', 'the source revision the files come from, recorded on each refreshed list')
    .option('--dry-run', 'print what would change, write nothing')
    .action((o) =>
      reportErrors(() => {
        const lists = loadIpLists(o.lists);
        const overrides = new Map<string, string>();
        for (const f of o.file as string[]) {
          const eq = f.indexOf('=');
          if (eq <= 0) throw new Error(`--file "${f}": expected APP=PATH`);
          if (!lists.lists.some((l) => l.app === f.slice(0, eq))) throw new Error(`--file "${f}": no list names the app "${f.slice(0, eq)}"`);
          overrides.set(f.slice(0, eq), f.slice(eq + 1));
        }
        const only = o.only as string[];
        for (const a of only) if (!lists.lists.some((l) => l.app === a)) throw new Error(`--only ${a}: no list names this app`);
        const chosen = (l: IpList) => only.length === 0 || only.includes(l.app);
        const found = new Map<IpList, string>();
        for (const list of lists.lists.filter(chosen)) {
          const path = overrides.get(list.app) ?? (o.from as string[]).map((d) => join(d, list.source.file)).find((p) => existsSync(p));
          if (path === undefined) throw new Error(`IP list ${list.app}: ${list.source.file} is in none of ${(o.from as string[]).join(', ')} (give --file ${list.app}=PATH)`);
          found.set(list, path);
        }
        const date = o.date ?? new Date(Math.max(...[...found.values()].map((p) => statSync(p).mtimeMs))).toISOString().slice(0, 10);
        const { lists: next, changes } = refreshIpLists(lists, (l) => readFileSync(found.get(l)!, 'utf8'), date, { only: chosen, commit: o.commit });
        for (const c of changes) {
          process.stderr.write(`${c.app}: ${c.before} -> ${c.after} prefixes (+${c.added} -${c.removed}) from ${found.get(lists.lists.find((l) => l.app === c.app)!)}\n`);
          if (c.skippedLines.length > 0) process.stderr.write(`  ${c.skippedLines.length} line(s) held no prefix, e.g. line ${c.skippedLines[0].line}: ${JSON.stringify(c.skippedLines[0].text)}\n`);
        }
        if (o.dryRun) return;
        writeFileAtomic(o.lists, formatIpLists(next));
        process.stderr.write(`wrote ${o.lists} (data of ${date})\n`);
      }),
    );
}

/** One list per block, prefixes several to a line: a diff of a refresh stays readable. */
export function formatIpLists(lists: ReturnType<typeof loadIpLists>): string {
  const head = { version: lists.version, about: lists.about };
  const blocks = lists.lists.map((l) => {
    const { prefixes, ...meta } = l;
    const lines: string[] = [];
    for (let i = 0; i < prefixes.length; i += 8) lines.push('        ' + prefixes.slice(i, i + 8).map((p) => JSON.stringify(p)).join(', '));
    const metaText = JSON.stringify(meta).slice(1, -1);
    return `    {${metaText},\n      "prefixes": [\n${lines.join(',\n')}\n      ]\n    }`;
  });
  return `${JSON.stringify(head, null, 2).slice(0, -2)},\n  "lists": [\n${blocks.join(',\n')}\n  ]\n}\n`;
}
