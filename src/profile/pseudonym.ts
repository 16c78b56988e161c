import { createHmac, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';

/**
 * Pseudonymous user ids: HMAC-SHA256 under a key that lives outside the profile store, of the device address or of
 * an id the operator supplies. Without the key the ids cannot be tied back to an address by hashing guesses; with a
 * new key the same devices become new users. The store keeps only a fingerprint of the key, so ingesting with
 * another key is refused instead of silently splitting every user in two.
 */
export const DEFAULT_KEY_FILE = join(homedir(), '.config', 'cipherscope', 'profile.key');

export class PseudonymKey {
  private constructor(private readonly key: Buffer) {}

  /** Read the key file (32 random bytes, hex); create it, readable by its owner only, when it does not exist. */
  static load(file = process.env.CIPHERSCOPE_PROFILE_KEY_FILE ?? DEFAULT_KEY_FILE, create = true): PseudonymKey {
    if (!existsSync(file)) {
      if (!create) throw new Error(`${file}: no pseudonym key there, and the store was started with a key: give its --key-file (a new key would make every user a new one)`);
      mkdirSync(dirname(file), { recursive: true });
      writeFileSync(file, randomBytes(32).toString('hex') + '\n', { mode: 0o600 });
      chmodSync(file, 0o600);
    }
    const text = readFileSync(file, 'utf8').trim();
    if (!/^[0-9a-f]{64}$/.test(text)) throw new Error(`${file}: not a profile key (64 hex digits)`);
    return new PseudonymKey(Buffer.from(text, 'hex'));
  }

  static fromHex(hex: string): PseudonymKey {
    if (!/^[0-9a-f]{64}$/.test(hex)) throw new Error('profile key: 64 hex digits expected');
    return new PseudonymKey(Buffer.from(hex, 'hex'));
  }

  /** The user id of a device address. */
  device(addr: string): string {
    return this.hash(`device:${addr}`);
  }

  /** The user id of an operator-supplied id (a phone's serial, a study participant's code). */
  operator(id: string): string {
    return this.hash(`user:${id}`);
  }

  /** Stored in the profile store to recognise the key; says nothing about it. */
  fingerprint(): string {
    return this.hash('fingerprint');
  }

  private hash(s: string): string {
    return 'u' + createHmac('sha256', this.key).update(s).digest('hex').slice(0, 31);
  }
}
