/**
 * Deposits from the wallet: SOVR moved on chain into the person's hub balance. The worker signs an
 * EIP-3009 authorization to the hub's treasury over the window the popup showed, stores it with its
 * Idempotency-Key BEFORE `POST /deposits`, then follows the deposit (`GET /deposits/:id`, with
 * back-off) until it is completed or failed. Storage is the only state: a worker stopped at any
 * point resumes on wake, re-sending the same body under the same key when the POST's answer was
 * never stored (the hub replays its answer; a re-signed body would be a different request).
 */
import { authorizationWindow, windowAcceptable } from '../../shared/eip3009.js';
import { DEPOSITS_KEY, isOpenDeposit, readDeposits, trimDeposits, type StoredDeposit } from '../common/deposit.js';
import type { T } from '../common/i18n.js';
import type { HubSession, OnChainPlan } from '../common/state.js';
import type { StorageArea } from '../common/storage.js';
import { refusalText, type DepositClient, type DepositOutcome } from './deposit-client.js';
import type { SovrRailInfo } from './onchain.js';
import { createSerial } from './serial.js';
import { type SignAuthorization, WalletLockedError } from './sign.js';

export interface DepositsDeps {
  local: StorageArea;
  /** The worker's words; a deposit's `error` is stored as text (see ApprovalsDeps.t for why). */
  t: T;
  client: DepositClient;
  /** The signed-in hub session with a fresh access token, or null. */
  session(): Promise<HubSession | null>;
  rails: { sovr(): Promise<SovrRailInfo | null> };
  sign: SignAuthorization;
  now?: () => number;
  newId?: () => string;
  sleep?: (ms: number) => Promise<void>;
  /** Back-off of `GET /deposits/:id`: the first wait, doubled up to the last. */
  backoff?: { firstMs: number; maxMs: number };
  /** Asks to be woken later while a deposit is open (the worker may be stopped meanwhile). */
  scheduleWake?: () => Promise<void>;
  /** A deposit completed: the hub balance changed (refresh the account). */
  onCompleted?: (d: StoredDeposit) => Promise<void>;
}

export type Deposits = ReturnType<typeof createDeposits>;

export function createDeposits(deps: DepositsDeps) {
  const now = deps.now ?? (() => Date.now());
  const newId = deps.newId ?? (() => crypto.randomUUID());
  const sleep = deps.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const backoff = deps.backoff ?? { firstMs: 1000, maxMs: 30_000 };
  const serial = createSerial();
  // Deposits this worker instance is sending or following now: one loop per deposit.
  const busy = new Set<string>();
  // A follow loop's wait, cut short when the hub says on the socket that the deposit moved.
  const wakers = new Map<string, () => void>();

  const load = async () => readDeposits((await deps.local.get(DEPOSITS_KEY))[DEPOSITS_KEY]);
  const find = async (id: string) => (await load()).find((d) => d.id === id) ?? null;

  async function update(id: string, change: (d: StoredDeposit) => StoredDeposit): Promise<StoredDeposit | null> {
    return serial(async () => {
      const list = await load();
      const i = list.findIndex((d) => d.id === id);
      if (i < 0) return null;
      list[i] = { ...change(list[i]!), updatedAt: now() };
      await deps.local.set({ [DEPOSITS_KEY]: trimDeposits(list) });
      return list[i]!;
    });
  }

  /** The session the deposit was made under, or null (signed out, or another person/hub now). */
  async function sessionFor(d: StoredDeposit): Promise<HubSession | null> {
    const s = await deps.session();
    return s && s.url === d.hubUrl && s.user?.id === d.userId ? s : null;
  }

  const applyOutcome =
    (o: DepositOutcome) =>
    (d: StoredDeposit): StoredDeposit => {
      if (o.kind === 'answered') return { ...d, status: o.deposit.status, deposit: o.deposit, error: o.deposit.failureReason };
      if (o.kind === 'refused' && d.status === 'sending') return { ...d, status: 'failed', error: refusalText(o) };
      return { ...d, error: o.kind === 'refused' ? refusalText(o) : o.message };
    };

  /** Sends the stored body under the stored key; the answer (or why there is none) is stored. */
  async function send(d: StoredDeposit): Promise<StoredDeposit | null> {
    const session = await sessionFor(d);
    if (!session) return update(d.id, (x) => ({ ...x, error: deps.t('worker_deposit_waits_sign_in') }));
    return update(d.id, applyOutcome(await deps.client.create(session, d.idempotencyKey, d.body)));
  }

  /** Polls the hub with back-off until the deposit is final (or the worker stops: resume goes on). */
  async function follow(d: StoredDeposit): Promise<void> {
    let wait = backoff.firstMs;
    let current: StoredDeposit | null = d;
    while (current && isOpenDeposit(current) && current.deposit) {
      const hubId = current.deposit.depositId;
      await Promise.race([sleep(wait), new Promise<void>((r) => wakers.set(hubId, r))]);
      wakers.delete(hubId);
      wait = Math.min(wait * 2, backoff.maxMs);
      const session = await sessionFor(current);
      if (!session) return;
      current = await update(current.id, applyOutcome(await deps.client.get(session, current.deposit.depositId)));
    }
    if (current?.status === 'completed')
      await deps.onCompleted?.(current).catch((e: unknown) => console.error('tollway: account refresh', e));
  }

  /** Sends it if its POST was never answered (unless `sent` is that answer already), then follows it to the end. */
  async function run(id: string, sent?: StoredDeposit | null): Promise<void> {
    if (busy.has(id)) return;
    busy.add(id);
    try {
      let d = sent === undefined ? await find(id) : sent;
      if (sent === undefined && d?.status === 'sending') d = await send(d);
      if (d && isOpenDeposit(d)) await deps.scheduleWake?.();
      if (d?.deposit) await follow(d);
    } finally {
      busy.delete(id);
    }
  }

  return {
    /**
     * Signs `amount` (base units) over the window the popup showed (checked again: one left on
     * screen too long is refused, not re-timed), stores it, then sends it. Resolves once the POST
     * is answered (or known to need a retry); `settled` once the deposit is final.
     */
    async create(
      amount: string,
      window?: { validAfter: number; validBefore: number },
    ): Promise<{ deposit: StoredDeposit; settled: Promise<void> }> {
      const session = await deps.session();
      if (!session?.user) throw new Error(deps.t('worker_sign_in_first'));
      const rail = await deps.rails.sovr();
      if (!rail?.treasury) throw new Error(deps.t('worker_no_deposit_rail'));
      const nowSeconds = Math.floor(now() / 1000);
      const signWindow = window ?? authorizationWindow(nowSeconds, Math.floor((rail.minValiditySeconds + rail.maxValiditySeconds) / 2));
      if (!windowAcceptable(signWindow, nowSeconds, rail)) throw new Error(deps.t('worker_validity_stale_deposit'));
      const plan: OnChainPlan = {
        kind: 'merchant',
        payment: { rail: 'sovr', payTo: rail.treasury, amount, asset: 'SOVR' },
        domain: { name: rail.eip712.name, version: rail.eip712.version, chainId: rail.chainId, verifyingContract: rail.token },
        from: session.user.address,
        to: rail.treasury,
        validitySeconds: signWindow.validBefore - nowSeconds,
        minValiditySeconds: rail.minValiditySeconds,
        maxValiditySeconds: rail.maxValiditySeconds,
      };
      // A locked wallet throws here: nothing is stored or sent.
      const authorization = await deps.sign(plan, signWindow).catch((e: unknown) => {
        throw e instanceof WalletLockedError ? new Error(deps.t('worker_locked_deposit')) : e;
      });
      const t = now();
      const stored: StoredDeposit = {
        id: newId(),
        idempotencyKey: `tollway-deposit-${newId()}`,
        hubUrl: session.url,
        userId: session.user.id,
        body: { amount, authorization },
        status: 'sending',
        deposit: null,
        error: null,
        createdAt: t,
        updatedAt: t,
      };
      // Stored before the POST: a worker stopped during it sends these very bytes again on wake.
      await serial(async () => deps.local.set({ [DEPOSITS_KEY]: trimDeposits([stored, ...(await load())]) }));
      await deps.scheduleWake?.();
      busy.add(stored.id);
      let sent: StoredDeposit | null;
      try {
        sent = await send(stored);
      } finally {
        busy.delete(stored.id);
      }
      const settled = run(stored.id, sent).catch((e: unknown) => console.error('tollway: deposit', e));
      return { deposit: sent ?? stored, settled };
    },

    /** Every worker start, sign-in and wake-up: open deposits are sent (same key, same body) or followed. */
    /**
     * The hub said on the socket that a deposit moved: read it back now rather than at the next
     * poll (the socket's word alone changes nothing stored). A deposit not followed here is resumed.
     */
    async heard(depositId: string): Promise<void> {
      const wake = wakers.get(depositId);
      if (wake) return wake();
      const d = (await load()).find((x) => x.deposit?.depositId === depositId);
      if (d && isOpenDeposit(d)) await run(d.id);
    },
    async resume(): Promise<void> {
      const open = (await load()).filter(isOpenDeposit);
      await Promise.all(open.map((d) => run(d.id).catch((e: unknown) => console.error('tollway: deposit', e))));
    },
  };
}
