/**
 * Sign-In with Ethereum (EIP-4361): the extension signs a message naming this hub and a nonce the
 * hub just issued; the hub checks it and learns which wallet is logging in.
 *
 * Nonces live in siwe_nonces and are single-use: consuming one is a conditional UPDATE whose row
 * count says whether this request won, so a replayed message fails even when both copies arrive
 * at once, on any number of hub processes.
 *
 * What the message must say besides the signature: this hub's domain and origin (a message signed
 * for another site, or for this host over another scheme, is no login here), the chain id the
 * extension signs, and an issuedAt no older than a nonce lives (a message can't be older than its
 * nonce) and not ahead of our clock by more than a small skew.
 *
 * Issuing a nonce stores a row for an unauthenticated caller, so live unused nonces are capped per
 * client (IPv4 address or IPv6 /64) and overall; past a cap the caller gets 429 until one expires.
 */
import { randomBytes } from 'node:crypto';
import { getAddress, verifyMessage } from 'ethers';
import { SiweMessage } from 'siwe';
import { ProblemError } from '../../shared/problem.js';
import type { Clock } from '../clock.js';
import type { Db } from '../store/types.js';
import { UNKNOWN_CLIENT } from './client-key.js';

/**
 * The chain id sign-in messages must name: what the extension signs (extension/common/siwe.ts).
 * Not the SOVR rail's chain: in SIWE the chain id only says where a contract wallet's signature
 * would be checked (EIP-1271), and the hub accepts plain key signatures only; the extension signs
 * the same login whatever rails a hub runs, and turning a rail on must not lock everyone out.
 */
export const SIWE_CHAIN_ID = 1;
export const DEFAULT_NONCES_PER_CLIENT = 20;
export const DEFAULT_NONCES_TOTAL = 10_000;

export interface SiweAuth {
  /**
   * A fresh nonce for `client` (a key from clientKey()). Throws ProblemError('rate-limited') with
   * `retryAfter` (seconds) when the client, or everyone together, holds too many unused ones.
   */
  issueNonce(client?: string): Promise<string>;
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
  /** The message's URI must have this origin (the hub's public URL). */
  uri: string;
  /** The message's chain id must be this. */
  chainId: number;
  nonceTtlSeconds?: number;
  /** How far ahead of our clock a message's issuedAt may be (the signer's clock may run fast). */
  clockSkewSeconds?: number;
  /** Live unused nonces one client may hold. */
  maxNoncesPerClient?: number;
  /** Live unused nonces all clients together may hold: bounds the table whatever the addresses. */
  maxNonces?: number;
}

const SIGNATURE_RE = /^0x[0-9a-fA-F]{130}$/;
const MAX_MESSAGE_LENGTH = 4096;
const SWEEP_INTERVAL_MS = 60_000;

interface LiveCount {
  n: number | string;
  oldest: number | string | null;
}

export function createSiweAuth(opts: SiweAuthOptions): SiweAuth {
  const { db, clock, domain, chainId } = opts;
  const nonceTtlMs = (opts.nonceTtlSeconds ?? 300) * 1000;
  const skewMs = (opts.clockSkewSeconds ?? 60) * 1000;
  const perClient = opts.maxNoncesPerClient ?? DEFAULT_NONCES_PER_CLIENT;
  const total = opts.maxNonces ?? DEFAULT_NONCES_TOTAL;
  const expectedOrigin = new URL(opts.uri).origin;
  let lastSweep = -Infinity;

  const fail = (detail: string): never => {
    throw new ProblemError('invalid-siwe', detail);
  };

  return {
    async issueNonce(client = UNKNOWN_CLIENT) {
      // 128 random bits as hex: alphanumeric and ≥ 8 characters, as EIP-4361 requires.
      const nonce = randomBytes(16).toString('hex');
      const now = clock.now();
      const refused = await db.transaction(async (tx) => {
        // /auth/nonce is unauthenticated, so the table is swept of expired rows (used or not) now
        // and then, keeping it about (request rate × TTL) in size.
        if (now - lastSweep >= SWEEP_INTERVAL_MS) {
          lastSweep = now;
          await tx.run('DELETE FROM siwe_nonces WHERE expires_at <= ?', [now]);
        }
        // One client's requests one at a time on PostgreSQL (READ COMMITTED), or simultaneous
        // requests would all count the same rows and all pass. SQLite runs one writer anyway.
        // The overall cap may be passed by as many requests as run at once: it bounds the table,
        // it is not a quota.
        if (tx.dialect === 'postgres')
          await tx.get('SELECT pg_advisory_xact_lock(hashtextextended(?, 0)) AS locked', [`siwe-nonce:${client}`]);
        const mine = await tx.get<LiveCount>(
          'SELECT COUNT(*) AS n, MIN(expires_at) AS oldest FROM siwe_nonces WHERE client = ? AND used_at IS NULL AND expires_at > ?',
          [client, now],
        );
        if (Number(mine?.n ?? 0) >= perClient)
          return { retryAt: Number(mine?.oldest ?? now + nonceTtlMs), detail: 'too many unused sign-in nonces from this address' };
        const all = await tx.get<LiveCount>(
          'SELECT COUNT(*) AS n, MIN(expires_at) AS oldest FROM siwe_nonces WHERE used_at IS NULL AND expires_at > ?',
          [now],
        );
        if (Number(all?.n ?? 0) >= total)
          return { retryAt: Number(all?.oldest ?? now + nonceTtlMs), detail: 'too many unused sign-in nonces; try again shortly' };
        await tx.run('INSERT INTO siwe_nonces (nonce, expires_at, client) VALUES (?, ?, ?)', [nonce, now + nonceTtlMs, client]);
        return undefined;
      });
      if (refused) {
        // When the oldest unused nonce lapses, the count goes down by one.
        const retryAfter = Math.max(1, Math.ceil((refused.retryAt - now) / 1000));
        throw new ProblemError('rate-limited', refused.detail, { retryAfter });
      }
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
      if (originOf(msg.uri) !== expectedOrigin) fail(`uri must be on ${expectedOrigin}`);
      if (msg.chainId !== chainId) fail(`chain id must be ${chainId}`);
      // The library checks expirationTime and notBefore, not issuedAt. A message issued before its
      // nonce could exist was not made for this login; one from the future means a clock we
      // should not trust (or a message prepared to be used later).
      const issuedAt = Date.parse(msg.issuedAt ?? '');
      const now = clock.now();
      if (!Number.isFinite(issuedAt)) fail('issuedAt is missing or not a date');
      if (issuedAt < now - nonceTtlMs - skewMs) fail('issuedAt is too old: sign a fresh message');
      if (issuedAt > now + skewMs) fail('issuedAt is in the future: check the device clock');

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
      const consumedAt = clock.now();
      const consumed = await db.transaction((tx) =>
        tx.run('UPDATE siwe_nonces SET used_at = ? WHERE nonce = ? AND used_at IS NULL AND expires_at > ?', [
          consumedAt,
          msg.nonce,
          consumedAt,
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
