import { TestbedApps, type TestbedAppsOptions } from './apps.js';

/**
 * The testbed apps as a process of their own, for the servers' network namespace (a namespace is entered by a
 * process, not by a running Node thread): options as JSON in argv[2]; prints {"spkiSha256": ...} once listening;
 * SIGTERM or SIGINT stops it. Started by AppsProcess (apps-process.ts).
 */
const options = JSON.parse(process.argv[2] ?? '{}') as TestbedAppsOptions;
const apps = new TestbedApps(options);
await apps.start();
process.stdout.write(JSON.stringify({ spkiSha256: apps.spkiSha256 }) + '\n');
const stop = async () => {
  await apps.stop();
  process.exit(0);
};
process.once('SIGTERM', () => void stop());
process.once('SIGINT', () => void stop());
