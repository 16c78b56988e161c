#!/usr/bin/env node
// Runs the compiled CLI (npm run build). From a source checkout without a build, use: node --import tsx src/cli/run.ts
import { main } from '../dist/cli/main.js';

main(process.argv).catch((e) => {
  process.stderr.write(`cipherscope: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exitCode = 1;
});
