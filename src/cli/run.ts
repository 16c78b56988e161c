import { main } from './main.js';

main(process.argv).catch((e) => {
  process.stderr.write(`cipherscope: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exitCode = 1;
});
