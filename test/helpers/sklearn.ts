import { execFileSync } from 'node:child_process';

/** Debian's python3 (not a pyenv one on PATH), where python3-sklearn is installed by scripts/setup.sh. */
export const PYTHON = '/usr/bin/python3';

function haveSklearn(): boolean {
  try {
    execFileSync(PYTHON, ['-c', 'import sklearn'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Skip reason outside CI when scikit-learn is missing; in CI (which installs it) the tests always run. */
export const skipWithoutSklearn: string | false = !haveSklearn() && process.env.CI !== 'true' ? 'python3-sklearn not installed (scripts/setup.sh installs it)' : false;

/** Run a Python script that prints JSON on stdout. */
export function pythonJson<T>(script: string): T {
  return JSON.parse(execFileSync(PYTHON, ['-c', script], { encoding: 'utf8', maxBuffer: 1 << 26 })) as T;
}
