import { type Command, Option } from 'commander';
import { LINK_PROFILES } from '../testbed/netns.js';
import { count as int, reportErrors } from './args.js';
import type { CaptureSource } from '../capture/capture.js';
import { TESTBED_CAPTURE_FILTER } from '../testbed/constants.js';
import { reportText } from './label-command.js';

// The testbed pulls in webdriverio, ws and node-forge (half a second to load): loaded only when a testbed command
// runs, so every other command starts fast.
const harness = () => import('../testbed/harness.js');
const testbedApps = () => import('../testbed/apps.js');


export function addTestbedCommand(program: Command): void {
  const testbed = program.command('testbed').description('Scripted user actions while capturing: the built-in local apps in headless Chromium, or any WebDriver server (Appium) with a phone.');

  testbed
    .command('run')
    .description('Run a scenario (a shipped name such as paper-mini or ci-small, or a JSON file) while capturing; writes capture, actions.jsonl, flows.csv (labeled), label-report.json and manifest.json into --out.')
    .argument('<scenario>', 'scenario name or file (format: docs/ground-truth.md)')
    .option('--out <dir>', 'output folder', 'out/testbed')
    .option('--seed <n>', 'seed of every random choice (order, think times, texts, sizes)', int, 1)
    .option('-i, --interface <name>', 'capture interface (dumpcap, tshark or tcpdump)', 'lo')
    .option('--capture-filter <bpf>', `capture filter; default on lo with the testbed: "${TESTBED_CAPTURE_FILTER} and tcp port PORT" (its apps only, not the WebDriver traffic nor another testbed's); "" for everything`)
    .option('--capture-tool <tool>', 'dumpcap, tshark or tcpdump (default: the first installed)')
    .option('--adb [serial]', 'capture on an Android phone over adb (adb exec-out tcpdump; needs root on the phone) instead of an interface')
    .option('--webdriver <url>', 'a running WebDriver server to drive (an Appium server); default: start chromedriver for the testbed')
    .option('--port <n>', 'port of the testbed apps', int, 8443)
    .addOption(new Option('--network <mode>', 'netns: each user a device in a network namespace of its own, behind an access point namespace where the capture is taken (needs root); loopback: everything on lo; auto: netns where namespaces can be made, else loopback (the manifest says which)').choices(['auto', 'netns', 'loopback']).default('auto'))
    .addOption(new Option('--link <profile>', 'link profile in netns mode: delay, jitter, loss and rate of the device (air) and access-point (wan) links, applied by the testbed radio; the manifest says what was applied').choices(Object.keys(LINK_PROFILES)).default('wifi'))
    .option('--users <n>', "override the scenario's users", int)
    .option('--repetitions <n>', "override the scenario's actions per class", int)
    .option('-q, --quiet', 'no progress')
    .action((name: string, o) =>
      reportErrors(async () => {
        const { loadScenario } = await import('../testbed/scenario.js');
        const { runTestbed } = await harness();
        const { scenario, path } = loadScenario(name);
        const filter: string | undefined = o.captureFilter;
        const capture: CaptureSource = o.adb !== undefined ? { kind: 'adb', serial: o.adb === true ? undefined : o.adb, filter } : { kind: 'interface', iface: o.interface, tool: o.captureTool, filter };
        const tty = process.stderr.isTTY && !o.quiet;
        const r = await runTestbed({
          scenario,
          scenarioPath: path,
          out: o.out,
          seed: o.seed,
          capture,
          webdriverUrl: o.webdriver,
          port: o.port,
          network: o.network,
          link: o.link,
          users: o.users,
          repetitions: o.repetitions,
          // Progress on a terminal only; in a pipe just the summary at the end.
          onProgress: tty ? (done, total, a) => process.stderr.write(`\rcipherscope testbed: ${done}/${total} ${a.app} ${a.action}\x1b[K`) : undefined,
        });
        if (tty) process.stderr.write('\n');
        if (!o.quiet) process.stderr.write(`cipherscope testbed: ${r.dir}: ${r.actions} actions in ${r.wallSec.toFixed(0)} s\n${reportText(r.report)}\n`);
      }),
    );

  testbed
    .command('serve')
    .description('Start only the testbed apps (to browse or script them by hand); prints the Chromium flags that reach them. Ctrl-C stops.')
    .option('--seed <n>', 'seed of the servers\' random sizes', int, 1)
    .option('--port <n>', 'port of the testbed apps', int, 8443)
    .action(async (o) => {
      const { TESTBED_HOSTS, TestbedApps, chromiumTestbedArgs, pageUrl } = await testbedApps();
      const apps = new TestbedApps({ seed: o.seed, port: o.port });
      await apps.start();
      process.stdout.write(`testbed apps: ${TESTBED_HOSTS.filter((h) => h.page).map((h) => pageUrl(h.page!, o.port)).join(' ')}\nchromium flags: ${chromiumTestbedArgs(apps.spkiSha256).map((a) => `'${a}'`).join(' ')}\n`);
      await new Promise<void>((resolve) => process.once('SIGINT', () => resolve()));
      await apps.stop();
    });
}
