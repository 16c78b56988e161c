import { writeFileSync } from 'node:fs';

/** A classify-output CSV of n flows of `users` devices, spread over a week (deterministic). */
export function classifiedCsv(path: string, n: number, users: number): void {
  const head = 'capture,flow_id,segment,first_seen_ns,last_seen_ns,protocol,client_addr,client_port,server_addr,server_port,packets,bytes,predicted_app,app_probability,predicted_action,action_probability';
  const apps = [
    ['Video', 'play_video'],
    ['Chat', 'send_text'],
    ['Mail', 'read_mail'],
    ['unknown', ''],
  ];
  const lines = [head];
  const t0 = 1_795_000_000_000_000_000n;
  for (let i = 0; i < n; i++) {
    const [app, action] = apps[(i * 7) % apps.length];
    const first = t0 + BigInt(i) * 37_000_000_000n;
    lines.push(`big.pcap,${i},0,${first},${first + BigInt((i % 50) * 1e8)},6,10.1.0.${i % users},${30000 + (i % 20000)},10.9.0.1,443,${3 + (i % 40)},${200 + ((i * 131) % 90000)},${app},0.9,${action},0.7`);
  }
  writeFileSync(path, lines.join('\n') + '\n');
}

