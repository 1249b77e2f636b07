import type { Payment } from '../../../shared/api.js';
import type { Clock } from '../../clock.js';
import type { Logger } from '../../logger.js';
import type { Db } from '../../store/types.js';
import type { RailOutcome } from '../types.js';
import type { OpenPayments } from './client.js';

/** What the rail's parts share: built once in index.ts. */
export interface IlpContext {
  db: Db;
  clock: Clock;
  logger: Logger;
  op: OpenPayments;
  report(paymentId: string, outcome: RailOutcome): Promise<Payment>;
  spawn(name: string, work: (signal: AbortSignal) => Promise<void>): void;
  signal: AbortSignal;
  /** `<hub>/ilp/finish`: where wallets send people back. */
  finishUrl: string;
  consentSeconds: number;
  settleWaitMs: number;
  /** Between two looks at an outgoing payment, ms. */
  pollMs: number;
  /** Wallet addresses and their servers may be private addresses (dev, tests). */
  allowPrivate: boolean;
  /** Payments a background follower is already scheduled for. */
  following: Set<string>;
}

/** Resolves after `ms`, or at once when `signal` aborts. */
export function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
