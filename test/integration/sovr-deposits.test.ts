/**
 * Deposits: SOVR from the person's own wallet into their hub balance, on a real local chain with
 * a real SOVR contract, over real HTTP (`POST /deposits`, `GET /deposits/:id`) against a real hub
 * and store. Credited once after the confirmations, replayed by key, carried across a restart,
 * voided on revert, refused with nothing stored when the authorization is bad. After every
 * scenario the ledger must balance.
 *
 * The routes are served by the hub once server/http/router.ts mounts them; until then this file
 * serves the same route module beside the hub, on the hub's own store, auth keys and payments
 * service.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import type { Wallet } from 'ethers';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { loadSigningKeys } from '../../server/auth/keys.js';
import { createAuthService } from '../../server/auth/service.js';
import { systemClock } from '../../server/clock.js';
import { depositRoutes } from '../../server/http/deposit-routes.js';
import { errorHandler, notFound } from '../../server/http/problem.js';
import { createLogger } from '../../server/logger.js';
import { userAccountId } from '../../server/core/accounts.js';
import { chainWalletAccountId } from '../../server/rails/sovr/index.js';
import { balances, createMerchant, pay, signIn, type Session, type TestHub } from '../helpers/hub.js';
import { expectLedgerBalanced, rowCounts } from '../helpers/invariant.js';
import { ledgerAccount, SOVR, useSovrChain, waitFor, type SovrHub as RailHub } from '../helpers/sovr.js';
import { ENGINES, freshStore, type Engine, type TestStore } from '../helpers/stores.js';

type D = { depositId: string; status: string; amount: string; from: string; transactionHash: string | null; failureReason: string | null };
type Problem = { type: string; status: number; reason?: string };

const bed = useSovrChain();
const { person, authorize, relayAuthorization, transactionsFrom } = bed;

interface SovrHub extends RailHub {
  /** Where POST /deposits is served: the hub itself once its router mounts the routes. */
  api: string;
  close(): Promise<void>;
}

/** The hub's URL if it serves /deposits, otherwise the route module beside it, on the hub's own parts. */
async function depositsEndpoint(t: TestHub): Promise<{ api: string; close(): Promise<void> }> {
  const probe = await fetch(`${t.url}/deposits/dep_probeprobeprobepr`);
  if (probe.status !== 404) return { api: t.url, close: async () => {} };
  const keys = await loadSigningKeys({ dataDir: t.store.env.TOLLWAY_DATA_DIR ?? `/tmp/tollway-pgtest-${t.hub.port}` });
  const auth = createAuthService({ db: t.store.db, keys, clock: systemClock, publicUrl: t.url });
  const app = express();
  app.use(express.json());
  app.use(depositRoutes({ auth, payments: t.hub.payments }));
  app.use(notFound);
  app.use(errorHandler(createLogger('silent')));
  const server: Server = createServer(app);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    api: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

async function startSovrHub(
  engine: Engine,
  opts: { store?: TestStore; keepStore?: boolean; service?: Wallet; treasury?: string; confirmations?: number } = {},
): Promise<SovrHub> {
  const { confirmations, ...hubOpts } = opts;
  const hub = await bed.startSovrHub(engine, { ...hubOpts, options: { confirmations: confirmations ?? 1 } });
  const { t } = hub;
  const endpoint = await depositsEndpoint(t);
  return {
    ...hub,
    api: endpoint.api,
    async close() {
      await endpoint.close();
      await t.stop();
    },
  };
}

let keys = 0;
const key = () => `deposit-${process.pid}-${++keys}`;

function deposit(api: string, s: Session | undefined, k: string | undefined, body: unknown): Promise<Response> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (s) headers.authorization = `Bearer ${s.accessToken}`;
  if (k !== undefined) headers['idempotency-key'] = k;
  return fetch(`${api}/deposits`, { method: 'POST', headers, body: JSON.stringify(body) });
}
const getDeposit = (api: string, s: Session, id: string) =>
  fetch(`${api}/deposits/${id}`, { headers: { authorization: `Bearer ${s.accessToken}` } });
const untilStatus = (api: string, s: Session, id: string, status: string) =>
  waitFor(async () => {
    const d = (await (await getDeposit(api, s, id)).json()) as D;
    return d.status === status ? d : undefined;
  }, `deposit ${id} to be ${status}`);

const depositCount = async (db: TestStore['db']) =>
  Number((await db.get<{ n: number | string }>('SELECT COUNT(*) AS n FROM sovr_deposits'))?.n);

describe.each(ENGINES)('deposits on %s', (engine) => {
  let h: SovrHub;
  beforeAll(async () => {
    h = await startSovrHub(engine, { confirmations: 2 });
  });
  afterEach(async () => {
    await bed.chain.setAutomine(true);
    await expectLedgerBalanced(h.t.store.db);
  });
  afterAll(async () => h?.close());

  it('credits the hub balance once the transfer is confirmed, exactly once; the same key answers the same deposit', async () => {
    const s = await person(h.t.url, 10n * SOVR);
    const amount = 4n * SOVR;
    const k = key();
    const body = { amount: amount.toString(), authorization: await authorize(s, h.treasury, amount) };
    const res = await deposit(h.api, s, k, body);
    expect(res.status).toBe(200);
    const d = (await res.json()) as D;
    expect(d).toMatchObject({ status: 'submitted', amount: amount.toString(), from: s.wallet.address, failureReason: null });
    expect(d.depositId).toMatch(/^dep_/);
    expect(d.transactionHash).toMatch(/^0x[0-9a-f]{64}$/);
    // Mined (automine) but not two blocks deep: not credited yet.
    expect((await bed.chain.provider.getTransactionReceipt(d.transactionHash!))?.status).toBe(1);
    expect((await balances(h.t.url, s)).SOVR?.posted ?? '0').toBe('0');

    await bed.chain.mine(1);
    const done = await untilStatus(h.api, s, d.depositId, 'completed');
    expect(done.transactionHash).toBe(d.transactionHash);
    expect((await balances(h.t.url, s)).SOVR).toMatchObject({ posted: amount.toString(), available: amount.toString() });
    expect(await bed.sovr.contract.balanceOf(h.treasury)).toBe(amount);
    const hubAccount = await ledgerAccount(h.t.store.db, userAccountId(s.user.id, 'SOVR'));
    expect([hubAccount!.creditsPosted, hubAccount!.creditsPending]).toEqual([amount, 0n]);
    const mirror = await ledgerAccount(h.t.store.db, chainWalletAccountId(s.user.id));
    expect([mirror!.debitsPosted, mirror!.debitsPending]).toEqual([amount, 0n]);

    const again = await deposit(h.api, s, k, body);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(((await again.json()) as D).depositId).toBe(d.depositId);
    expect(await depositCount(h.t.store.db)).toBeGreaterThanOrEqual(1);
    expect((await ledgerAccount(h.t.store.db, userAccountId(s.user.id, 'SOVR')))!.creditsPosted).toBe(amount);

    // Only its owner sees it.
    const other = await signIn(h.t.url);
    expect((await getDeposit(h.api, other, d.depositId)).status).toBe(404);
    // The hub balance pays on the internal rail.
    const m = await createMerchant(h.t.url);
    const paid = await pay(h.t.url, s, key(), { rail: 'internal', payTo: m.merchant.id, amount: SOVR.toString(), asset: 'SOVR' });
    expect(((await paid.json()) as { status: string }).status).toBe('completed');
  });

  it('refuses bad deposits with a problem, storing and sending nothing', async () => {
    const s = await person(h.t.url, 5n * SOVR);
    const other = await person(h.t.url, 5n * SOVR);
    const amount = SOVR;
    const good = await authorize(s, h.treasury, amount);
    const cases: [string, Session | undefined, string | undefined, unknown, number, string, string?][] = [
      [
        'signed by another key',
        s,
        key(),
        { amount: '1000000000000000000', authorization: await authorize(s, h.treasury, amount, { signer: other.wallet }) },
        400,
        'invalid-authorization',
        'signature',
      ],
      [
        'to someone other than the treasury',
        s,
        key(),
        { amount: amount.toString(), authorization: await authorize(s, other.wallet.address, amount) },
        400,
        'invalid-authorization',
        'recipient',
      ],
      [
        'a value other than the amount',
        s,
        key(),
        { amount: amount.toString(), authorization: await authorize(s, h.treasury, amount + 1n) },
        400,
        'invalid-authorization',
        'value',
      ],
      [
        "from someone else's wallet",
        s,
        key(),
        { amount: amount.toString(), authorization: await authorize(other, h.treasury, amount) },
        400,
        'invalid-authorization',
        'payer',
      ],
      [
        'a malformed authorization',
        s,
        key(),
        { amount: amount.toString(), authorization: { ...good, nonce: '0x12' } },
        400,
        'invalid-authorization',
        'malformed',
      ],
      [
        'more than the wallet holds',
        s,
        key(),
        { amount: (6n * SOVR).toString(), authorization: await authorize(s, h.treasury, 6n * SOVR) },
        400,
        'insufficient-funds',
      ],
      ['no authorization', s, key(), { amount: amount.toString() }, 400, 'validation-error'],
      ['an unknown field', s, key(), { amount: amount.toString(), authorization: good, asset: 'BTC' }, 400, 'validation-error'],
      ['a fractional amount', s, key(), { amount: '1.5', authorization: good }, 400, 'validation-error'],
      ['no Idempotency-Key', s, undefined, { amount: amount.toString(), authorization: good }, 400, 'idempotency-key-missing'],
      ['no access token', undefined, key(), { amount: amount.toString(), authorization: good }, 401, 'unauthorized'],
    ];
    const rowsBefore = await rowCounts(h.t.store.db);
    const depositsBefore = await depositCount(h.t.store.db);
    const sentBefore = await bed.chain.provider.getTransactionCount(h.service.address, 'pending');
    for (const [what, who, k, body, status, type, reason] of cases) {
      const res = await deposit(h.api, who, k, body);
      const problem = (await res.json()) as Problem;
      expect([res.status, problem.type, problem.reason], what).toEqual([status, `https://tollway.dev/problems/${type}`, reason]);
      expect(res.headers.get('content-type'), what).toMatch(/application\/problem\+json/);
    }
    expect(await rowCounts(h.t.store.db)).toEqual(rowsBefore);
    expect(await depositCount(h.t.store.db)).toBe(depositsBefore);
    expect(await bed.chain.provider.getTransactionCount(h.service.address, 'pending')).toBe(sentBefore);
    // The good one still goes through.
    const ok = (await (await deposit(h.api, s, key(), { amount: amount.toString(), authorization: good })).json()) as D;
    expect(ok.status).toBe('submitted');
    await bed.chain.mine(1);
    await untilStatus(h.api, s, ok.depositId, 'completed');
  });
});

describe('deposits across failures (SQLite)', () => {
  const hubs: SovrHub[] = [];
  afterEach(async () => {
    await bed.chain.setAutomine(true);
    for (const h of hubs) await expectLedgerBalanced(h.t.store.db);
    for (const h of hubs.splice(0)) await h.close();
  });

  it('credits once after a restart between the broadcast and the confirmation', async () => {
    const store = await freshStore('sqlite');
    const first = await startSovrHub('sqlite', { store, keepStore: true });
    const s = await person(first.t.url, 10n * SOVR);
    const startBlock = await bed.chain.provider.getBlockNumber();
    await bed.chain.setAutomine(false);
    const d = (await (
      await deposit(first.api, s, key(), { amount: (3n * SOVR).toString(), authorization: await authorize(s, first.treasury, 3n * SOVR) })
    ).json()) as D;
    expect(d.status).toBe('submitted');
    await first.close();
    // The node also loses the transaction while the hub is down.
    expect(await bed.chain.dropTransaction(d.transactionHash!)).toBe(true);

    const second = await startSovrHub('sqlite', { store, service: first.service, treasury: first.treasury });
    hubs.push(second);
    await waitFor(
      async () => (await bed.chain.provider.getTransaction(d.transactionHash!)) !== null,
      'the re-broadcast of the stored transaction',
    );
    await bed.chain.mine(1);
    // The person's token names the first hub; read the outcome from the store.
    await waitFor(
      () => store.db.get("SELECT id FROM sovr_deposits WHERE id = ? AND status = 'completed'", [d.depositId]),
      'the deposit to complete',
    );
    const hubAccount = await ledgerAccount(store.db, userAccountId(s.user.id, 'SOVR'));
    expect([hubAccount!.creditsPosted, hubAccount!.creditsPending]).toEqual([3n * SOVR, 0n]);
    expect((await transactionsFrom(first.service.address, startBlock)).map((t) => t.hash)).toEqual([d.transactionHash]);
    expect(await bed.sovr.contract.balanceOf(first.treasury)).toBe(3n * SOVR);
    expect(second.rail.watching()).toBe(0);
  });

  it('credits nothing when the transfer reverts, and says why', async () => {
    const h = await startSovrHub('sqlite');
    hubs.push(h);
    const s = await person(h.t.url, 5n * SOVR);
    await bed.chain.setAutomine(false);
    const d = (await (
      await deposit(h.api, s, key(), { amount: (5n * SOVR).toString(), authorization: await authorize(s, h.treasury, 5n * SOVR) })
    ).json()) as D;
    expect(d.status).toBe('submitted');
    // Before it is mined the person spends everything elsewhere, with a larger tip.
    const away = await authorize(s, bed.chain.accounts[18]!.address, 5n * SOVR);
    await relayAuthorization(away);
    await bed.chain.mine(1);
    const failed = await untilStatus(h.api, s, d.depositId, 'failed');
    expect(failed.failureReason).toMatch(/reverted: ERC20: transfer amount exceeds balance/);
    expect((await bed.chain.provider.getTransactionReceipt(d.transactionHash!))?.status).toBe(0);
    const hubAccount = await ledgerAccount(h.t.store.db, userAccountId(s.user.id, 'SOVR'));
    expect([hubAccount!.creditsPosted, hubAccount!.creditsPending]).toEqual([0n, 0n]);
    const mirror = await ledgerAccount(h.t.store.db, chainWalletAccountId(s.user.id));
    expect([mirror!.debitsPosted, mirror!.debitsPending]).toEqual([0n, 0n]);
    expect(await bed.sovr.contract.balanceOf(h.treasury)).toBe(0n);
  });

  it('counts a deposit in flight against the wallet: a payment that would overdraw it is refused', async () => {
    const h = await startSovrHub('sqlite');
    hubs.push(h);
    const s = await person(h.t.url, 10n * SOVR);
    const m = await createMerchant(h.t.url);
    await bed.chain.setAutomine(false);
    const d = (await (
      await deposit(h.api, s, key(), { amount: (6n * SOVR).toString(), authorization: await authorize(s, h.treasury, 6n * SOVR) })
    ).json()) as D;
    expect(d.status).toBe('submitted');
    const res = await pay(h.t.url, s, key(), {
      rail: 'sovr',
      payTo: m.merchant.id,
      amount: (6n * SOVR).toString(),
      asset: 'SOVR',
      authorization: await authorize(s, h.treasury, 6n * SOVR),
    });
    expect([res.status, ((await res.json()) as Problem).type]).toEqual([400, 'https://tollway.dev/problems/insufficient-funds']);
    await bed.chain.mine(1);
    await untilStatus(h.api, s, d.depositId, 'completed');
  });
});
