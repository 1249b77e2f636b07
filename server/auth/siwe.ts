/**
 * Sign-In with Ethereum (EIP-4361): the extension signs a message naming this hub and a nonce the
 * hub just issued; the hub checks it and learns which wallet is logging in.
 *
 * Nonces live in siwe_nonces and are single-use: consuming one is a conditional UPDATE whose row
 * count says whether this request won, so a replayed message fails even when both copies arrive
 * at once, on any number of hub processes.
 */
import { randomBytes } from 'node:crypto';
import { getAddress, verifyMessage } from 'ethers';
import { SiweMessage } from 'siwe';
import { ProblemError } from '../../shared/problem.js';
import type { Clock } from '../clock.js';
import type { Db } from '../store/types.js';

export interface SiweAuth {
  issueNonce(): Promise<string>;
  /** Throws ProblemError('invalid-siwe') unless everything checks out; the nonce is then spent. */
  verifyLogin(message: string, signature: string): Promise<{ address: string }>;
}

export interface SiweAuthOptions {
  db: Db;
  clock: Clock;
  /** host[:port] of the hub's public URL: the message's domain must be exactly this. */
  domain: string;
  /** If the message carries a scheme (`https://host wants you…`), it must be this one (no colon). */
  scheme?: string;
  /** If given, the message's URI must have this origin. */
  uri?: string;
  /** If given, the message's chain id must be this. */
  chainId?: number;
  nonceTtlSeconds?: number;
}

const SIGNATURE_RE = /^0x[0-9a-fA-F]{130}$/;
const MAX_MESSAGE_LENGTH = 4096;
const SWEEP_INTERVAL_MS = 60_000;

export function createSiweAuth(opts: SiweAuthOptions): SiweAuth {
  const { db, clock, domain } = opts;
  const nonceTtlMs = (opts.nonceTtlSeconds ?? 300) * 1000;
  const expectedOrigin = opts.uri !== undefined ? new URL(opts.uri).origin : undefined;
  let lastSweep = -Infinity;

  const fail = (detail: string): never => {
    throw new ProblemError('invalid-siwe', detail);
  };

  return {
    async issueNonce() {
      // 128 random bits as hex: alphanumeric and ≥ 8 characters, as EIP-4361 requires.
      const nonce = randomBytes(16).toString('hex');
      const now = clock.now();
      await db.transaction(async (tx) => {
        // /auth/nonce is unauthenticated, so the table is swept of expired rows (used or not) now
        // and then, keeping it about (request rate × TTL) in size.
        if (now - lastSweep >= SWEEP_INTERVAL_MS) {
          lastSweep = now;
          await tx.run('DELETE FROM siwe_nonces WHERE expires_at <= ?', [now]);
        }
        await tx.run('INSERT INTO siwe_nonces (nonce, expires_at) VALUES (?, ?)', [nonce, now + nonceTtlMs]);
      });
      return nonce;
    },

    async verifyLogin(message, signature) {
      if (typeof message !== 'string' || message.length === 0 || message.length > MAX_MESSAGE_LENGTH) {
        fail('malformed message');
      }
      if (typeof signature !== 'string' || !SIGNATURE_RE.test(signature)) fail('malformed signature');

      let msg: SiweMessage;
      try {
        msg = new SiweMessage(message);
      } catch {
        return fail('not a valid EIP-4361 message');
      }
      if (msg.version !== '1') fail('unsupported message version');
      if (msg.domain !== domain) fail(`domain must be ${domain}`);
      if (msg.scheme !== undefined && opts.scheme !== undefined && msg.scheme !== opts.scheme) fail('scheme mismatch');
      if (expectedOrigin !== undefined && originOf(msg.uri) !== expectedOrigin) fail(`uri must be on ${expectedOrigin}`);
      if (opts.chainId !== undefined && msg.chainId !== opts.chainId) fail(`chain id must be ${opts.chainId}`);

      // Recover the signer ourselves first: a clear reason, and siwe's verify logs to the console
      // when recovery throws on a malformed signature.
      let signer: string | undefined;
      try {
        signer = verifyMessage(message, signature);
      } catch {
        signer = undefined;
      }
      if (signer === undefined || signer !== getAddress(msg.address)) fail('signature does not match the address');

      // The library's own checks: domain, nonce, expirationTime/notBefore against our clock, and the
      // signature over its re-serialised message (which must equal what was signed). No provider
      // is passed, so it never makes the EIP-1271 network call for contract wallets.
      const res = await msg.verify(
        { signature, domain, nonce: msg.nonce, time: new Date(clock.now()).toISOString() },
        { suppressExceptions: true },
      );
      if (!res.success) fail(res.error?.type ?? 'verification failed');

      // Last, so a message that fails the checks above doesn't burn the person's nonce.
      const now = clock.now();
      const consumed = await db.transaction((tx) =>
        tx.run('UPDATE siwe_nonces SET used_at = ? WHERE nonce = ? AND used_at IS NULL AND expires_at > ?', [
          now,
          msg.nonce,
          now,
        ]),
      );
      if (consumed.changes !== 1) fail('nonce unknown, expired or already used');

      return { address: getAddress(msg.address) };
    },
  };
}

function originOf(uri: string): string | undefined {
  try {
    return new URL(uri).origin;
  } catch {
    return undefined;
  }
}
