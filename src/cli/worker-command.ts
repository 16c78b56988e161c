import { hostname } from 'node:os';
import type { Command } from 'commander';
import { count as int, reportErrors, seconds } from './args.js';
import { PREDICTION_COLUMNS } from '../models/predictions.js';
import { readRecords } from '../dataset/record-files.js';
import { DEFAULT_GROUP, DEFAULT_STREAM, FlowQueue } from '../distributed/flow-queue.js';
import { flowColumns } from '../meter/meter.js';
import { profileSink, queueSink } from '../pipeline/sinks.js';
import { openProfileStore } from '../profile/open.js';

/**
 * Scale-out past one machine: sensors publish classified flows to Redis Streams (`publish`); `worker`s on any
 * number of hosts read them in a consumer group and count them into a shared profile store (PostgreSQL), each batch
 * in one transaction, acknowledged after it commits (flow-queue.ts explains why nothing is lost or counted twice).
 */
export function addWorkerCommands(program: Command): void {
  const redisOpts = (c: Command) =>
    c
      .requiredOption('--redis <url>', 'Redis server, e.g. redis://127.0.0.1:6379')
      .option('--stream <name>', 'Redis stream', DEFAULT_STREAM);

  redisOpts(program.command('publish'))
    .description('Publish classified flows (cipherscope classify output, CSV) to a Redis stream for workers.')
    .argument('<classified...>', 'classify output files (.csv)')
    .action((files: string[], o) =>
      reportErrors(async () => {
        const q = await FlowQueue.connect(o.redis, o.stream);
        try {
          const cols = [...flowColumns(), ...PREDICTION_COLUMNS];
          for (const f of files) {
            const t = await readRecords(f, cols);
            const sink = queueSink(q, t.names);
            sink.write(t.rows);
            await sink.flush();
            process.stderr.write(`cipherscope: ${f}: ${t.rows.length} flows published to ${o.stream}\n`);
          }
        } finally {
          await q.close();
        }
      }),
    );

  redisOpts(program.command('worker'))
    .description('Read classified flows from a Redis stream in a consumer group and count them into a profile store; records of a worker that died are claimed after --claim-idle.')
    .requiredOption('--db <file|url>', 'profile store (shared: postgresql://...)')
    .option('--key-file <file>', 'the pseudonym key (the same on every worker)')
    .option('--group <name>', 'consumer group', DEFAULT_GROUP)
    .option('--name <consumer>', 'this worker\'s name in the group (default: host and process id)')
    .option('--batch <n>', 'records per batch (one transaction)', int, 200)
    .option('--claim-idle <seconds>', 'claim records another worker read but left unacknowledged this long', seconds, 30)
    .option('--until-empty', 'exit when nothing is left to deliver or acknowledge (default: run until SIGTERM)')
    .action((o) =>
      reportErrors(async () => {
        const name = o.name ?? `${hostname()}-${process.pid}`;
        const { store, key } = await openProfileStore(o);
        const q = await FlowQueue.connect(o.redis, o.stream, o.group, [...flowColumns(), ...PREDICTION_COLUMNS]);
        let stopping = false;
        process.once('SIGTERM', () => (stopping = true));
        process.once('SIGINT', () => (stopping = true));
        try {
          await q.ensureGroup();
          let total = 0;
          while (!stopping) {
            const b = await q.next(name, o.batch, o.claimIdle * 1000, 1000);
            if (b.ids.length === 0) {
              if (o.untilEmpty) {
                const left = await q.backlog();
                if (left.undelivered === 0 && left.pending === 0) break;
              }
              continue;
            }
            process.stderr.write(`worker ${name}: read ${b.ids.length}\n`);
            // One batch, one transaction, acknowledged only once it has committed.
            let fresh = 0;
            const sink = profileSink(store, key, b.names, `${o.stream} ${b.ids[0]}`, undefined, (r) => (fresh = r.newFlows));
            sink.write(b.rows);
            await sink.flush();
            await q.ack(b.ids);
            total += b.ids.length;
            process.stderr.write(`worker ${name}: committed ${b.ids.length} (${fresh} new), ${total} in all\n`);
          }
        } finally {
          await q.close();
          await store.close();
        }
      }),
    );
}
