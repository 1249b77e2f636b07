/**
 * "Move SOVR from my wallet": the amount typed in SOVR turned into base units exactly, and the
 * worker's deposit flow against a real hub with the SOVR rail (from TOLLWAY_SOVR_*) on a real local
 * chain, through the extension's own deposit client, rails cache and signer (ethers, the key from
 * session storage):
 *
 * - signed, stored with its key BEFORE `POST /deposits`, sent as stored, followed to completed; the
 *   hub balance is credited and the treasury holds the tokens; the account is refreshed;
 * - a locked wallet or a window shown too long ago: nothing is signed, stored or sent;
 * - a refusal (insufficient funds on chain) is stored as failed with the hub's reason, as text;
 * - the worker stopped after the hub took the deposit but before its answer arrived: the next
 *   worker re-sends the very same bytes under the same key, the hub replays its answer, and the
 *   deposit is followed to completed: one deposit at the hub, one credit.
 */
import { Wallet } from 'ethers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tEn } from '../helpers/i18n-en.js';
import { createDepositClient } from '../../extension/background/deposit-client.js';
import { createDeposits } from '../../extension/background/deposits.js';
import { createHubApi } from '../../extension/background/hub-api.js';
import { createRails } from '../../extension/background/rails.js';
import { createAuthorizationSigner } from '../../extension/background/sign.js';
import { DEPOSITS_KEY, parseSovrAmount, readDeposits, trimDeposits, type StoredDeposit } from '../../extension/common/deposit.js';
import { KEYS, type HubSession } from '../../extension/common/state.js';
import { MAX_AMOUNT } from '../../shared/amount.js';
import { authorizationWindow } from '../../shared/eip3009.js';
import { deploySovr, startChain, type SovrDeployment, type TestChain } from '../helpers/chain.js';
import { startHoldingProxy, type HoldingProxy } from '../helpers/extension-proxy.js';
import { signIn, startTestHub, type Session, type TestHub } from '../helpers/hub.js';
import { expectLedgerBalanced } from '../helpers/invariant.js';
import { MemoryStorage } from '../helpers/memory-storage.js';

const SOVR = 10n ** 18n;

describe('the amount typed in SOVR', () => {
  const value = (t: string) => {
    const r = parseSovrAmount(t, tEn);
    return r.ok ? r.value : r.error;
  };

  it('becomes base units exactly, without floating point', () => {
    expect(value('2')).toBe(2n * SOVR);
    expect(value('0.5')).toBe(SOVR / 2n);
    expect(value('.25')).toBe(SOVR / 4n);
    expect(value('1.')).toBe(SOVR);
    expect(value(' 3.000 ')).toBe(3n * SOVR);
    expect(value('0.000000000000000001')).toBe(1n);
    expect(value('0.1')).toBe(10n ** 17n); // 0.1 as a float would not be exact
    expect(value('123456789.123456789123456789')).toBe(123456789123456789123456789n);
    // Trailing zeros past the 18th decimal change nothing, so they are fine.
    expect(value('1.0000000000000000000000')).toBe(SOVR);
    // The largest uint256 still passes; one more does not.
    const max = `${MAX_AMOUNT / SOVR}.${(MAX_AMOUNT % SOVR).toString().padStart(18, '0')}`;
    expect(value(max)).toBe(MAX_AMOUNT);
  });

  it('refuses garbage, zero, too many decimals and too much, saying why', () => {
    for (const bad of ['', '   ', '.', 'abc', '1e18', '-1', '+1', '1,5', '1.2.3', '0x10', 'Infinity', 'NaN', '١']) {
      expect(parseSovrAmount(bad, tEn).ok, bad).toBe(false);
    }
    expect(value('0')).toBe('The amount must be more than zero.');
    expect(value('0.000')).toBe('The amount must be more than zero.');
    expect(value('0.0000000000000000001')).toMatch(/at most 18 digits after the dot/);
    expect(value('1.1234567890123456789')).toMatch(/at most 18 digits after the dot/);
    expect(value(`${MAX_AMOUNT / SOVR + 1n}`)).toBe('That amount is too large.');
    expect(value('9'.repeat(100))).toBe('That amount is too large.');
  });
});

describe('the stored list', () => {
  it('keeps every open deposit and only the newest finished ones', () => {
    const d = (i: number, status: StoredDeposit['status']) => ({ id: String(i), status }) as StoredDeposit;
    const list = [d(0, 'sending'), ...Array.from({ length: 12 }, (_, i) => d(i + 1, 'completed')), d(13, 'submitted')];
    expect(trimDeposits(list).map((x) => x.id)).toEqual(['0', ...Array.from({ length: 10 }, (_, i) => String(i + 1)), '13']);
  });
});

let chain: TestChain;
let sovr: SovrDeployment;
let hub: TestHub;
let proxy: HoldingProxy;
let treasury: string;

beforeAll(async () => {
  chain = await startChain();
  sovr = await deploySovr(chain);
  treasury = chain.accounts[3]!.address;
  proxy = await startHoldingProxy();
  hub = await startTestHub('sqlite', {
    env: {
      TOLLWAY_SOVR_RPC_URL: chain.rpcUrl,
      TOLLWAY_SOVR_CHAIN_ID: String(chain.chainId),
      TOLLWAY_SOVR_TOKEN: sovr.address,
      TOLLWAY_SOVR_PRIVATE_KEY: chain.accounts[3]!.privateKey,
      TOLLWAY_SOVR_POLL_INTERVAL: '50',
    },
  });
  proxy.target = hub.url;
}, 90_000);

afterAll(async () => {
  await hub?.stop();
  await proxy?.close();
  await chain?.stop();
});

/** A person holding `tokens` SOVR on chain, and a worker's session storage with the key unlocked. */
async function person(tokens: bigint) {
  const s = await signIn(hub.url, Wallet.createRandom() as unknown as Wallet);
  await sovr.mint(s.wallet.address, tokens);
  const session = new MemoryStorage();
  await session.set({ [KEYS.unlocked]: { address: s.wallet.address, privateKey: s.wallet.privateKey } });
  // The worker reaches the hub through the proxy, which can hold back one answer.
  const hubSession: HubSession = { url: proxy.url, accessToken: s.accessToken, user: s.user };
  return { s, session, hubSession };
}

/** One service-worker instance over the given storage areas; records every POST /deposits. */
function worker(
  p: { session: MemoryStorage; hubSession: HubSession },
  local: MemoryStorage,
  opts: { timeoutMs?: number; backoff?: { firstMs: number; maxMs: number } } = {},
) {
  const posts: { body: string; key: string | null; stored: unknown; status: number; replayed: string | null }[] = [];
  const gets: string[] = [];
  const refreshed: StoredDeposit[] = [];
  const recording: typeof fetch = async (input, init) => {
    if (init?.method !== 'POST') {
      gets.push(String(input));
      return fetch(input, init);
    }
    // What was stored when the POST left: the signed body must already be there.
    const stored = readDeposits(local.peek(DEPOSITS_KEY))[0] ?? null;
    const entry = {
      body: String(init.body),
      key: (init.headers as Record<string, string>)['idempotency-key'] ?? null,
      stored,
      status: 0,
      replayed: null as string | null,
    };
    posts.push(entry);
    const res = await fetch(input, init);
    entry.status = res.status;
    entry.replayed = res.headers.get('idempotent-replayed');
    return res;
  };
  const deposits = createDeposits({
    t: tEn,
    local,
    client: createDepositClient({ t: tEn, fetch: recording, timeoutMs: opts.timeoutMs }),
    session: async () => p.hubSession,
    rails: createRails({ session: p.session, api: createHubApi({ t: tEn, fetch }), current: async () => p.hubSession }),
    sign: createAuthorizationSigner({ session: p.session, t: tEn }),
    backoff: opts.backoff ?? { firstMs: 50, maxMs: 400 },
    onCompleted: async (d) => void refreshed.push(d),
  });
  return { deposits, posts, gets, refreshed };
}

const stored = (local: MemoryStorage) => readDeposits(local.peek(DEPOSITS_KEY));
const nowSeconds = () => Math.floor(Date.now() / 1000);

async function hubAvailable(s: Session): Promise<bigint> {
  const me = (await (await fetch(`${hub.url}/accounts/me`, { headers: { authorization: `Bearer ${s.accessToken}` } })).json()) as {
    balances: { asset: string; available: string }[];
  };
  return BigInt(me.balances.find((b) => b.asset === 'SOVR')?.available ?? '0');
}

const depositsAtHub = async (userId: string) =>
  (await hub.store.db.all<{ id: string }>('SELECT id FROM sovr_deposits WHERE user_id = ?', [userId])).map((r) => r.id);

describe('moving SOVR from the wallet into the hub balance', () => {
  it('signs, stores before the POST, sends as stored, follows to completed; the balance is credited once', async () => {
    const p = await person(5n * SOVR);
    const local = new MemoryStorage();
    const w = worker(p, local);
    const before = await sovr.contract.balanceOf(treasury);
    const window = authorizationWindow(nowSeconds(), 600);

    const { deposit, settled } = await w.deposits.create((2n * SOVR).toString(), window);
    expect(w.posts).toHaveLength(1);
    const sent = JSON.parse(w.posts[0]!.body) as { amount: string; authorization: Record<string, string> };
    // Stored (signed, with its key) before it was sent, and sent as stored.
    expect(w.posts[0]!.stored).toMatchObject({ status: 'sending', body: sent, idempotencyKey: w.posts[0]!.key });
    expect(sent).toEqual({
      amount: (2n * SOVR).toString(),
      authorization: {
        from: p.s.wallet.address,
        to: treasury,
        value: (2n * SOVR).toString(),
        validAfter: String(window.validAfter),
        validBefore: String(window.validBefore),
        nonce: expect.stringMatching(/^0x[0-9a-f]{64}$/),
        signature: expect.stringMatching(/^0x[0-9a-f]{130}$/),
      },
    });
    expect(deposit).toMatchObject({
      status: 'submitted',
      deposit: { depositId: expect.stringMatching(/^dep_/), transactionHash: expect.stringMatching(/^0x[0-9a-f]{64}$/) },
    });

    await settled;
    expect(stored(local)).toEqual([
      expect.objectContaining({
        id: deposit.id,
        status: 'completed',
        error: null,
        deposit: expect.objectContaining({ status: 'completed' }),
      }),
    ]);
    expect(w.gets.every((u) => u.endsWith(`/deposits/${deposit.deposit!.depositId}`))).toBe(true);
    expect(w.refreshed).toHaveLength(1);
    expect(await hubAvailable(p.s)).toBe(2n * SOVR);
    expect(await sovr.contract.balanceOf(treasury)).toBe(before + 2n * SOVR);
    expect(await depositsAtHub(p.s.user.id)).toEqual([deposit.deposit!.depositId]);
    await expectLedgerBalanced(hub.store.db);
  });

  it('a locked wallet, or a window shown too long ago: nothing is signed, stored or sent', async () => {
    const p = await person(SOVR);
    const local = new MemoryStorage();
    const w = worker(p, local);
    const stale = authorizationWindow(nowSeconds() - 600, 600);
    await expect(w.deposits.create(SOVR.toString(), stale)).rejects.toThrow(/out of date/);
    await p.session.remove(KEYS.unlocked);
    await expect(w.deposits.create(SOVR.toString(), authorizationWindow(nowSeconds(), 600))).rejects.toThrow(
      /wallet is locked.*Nothing was signed/,
    );
    expect(local.peek(DEPOSITS_KEY)).toBeUndefined();
    expect(w.posts).toHaveLength(0);
    expect(await depositsAtHub(p.s.user.id)).toEqual([]);
  });

  it('a refusal (more than the wallet holds) is stored as failed with the hub’s reason, and not sent again', async () => {
    const p = await person(SOVR);
    const local = new MemoryStorage();
    const w = worker(p, local);
    const { deposit, settled } = await w.deposits.create((3n * SOVR).toString(), authorizationWindow(nowSeconds(), 600));
    await settled;
    expect(deposit).toMatchObject({ status: 'failed', deposit: null, error: expect.stringMatching(/^insufficient-funds: /) });
    expect(stored(local)).toEqual([expect.objectContaining({ status: 'failed', error: deposit.error })]);
    await w.deposits.resume();
    expect(w.posts).toHaveLength(1);
    expect(await depositsAtHub(p.s.user.id)).toEqual([]);
    expect(await hubAvailable(p.s)).toBe(0n);
  });
});

describe('a worker stopped while its POST /deposits was in flight', () => {
  it('re-sends the very same bytes under the same key: the hub replays its answer; one deposit, one credit', async () => {
    const p = await person(2n * SOVR);
    const local = new MemoryStorage();
    const before = await sovr.contract.balanceOf(treasury);
    // The first worker's POST reaches the hub, which takes the deposit; its answer never comes back.
    const first = worker(p, local, { timeoutMs: 2000 });
    const held = proxy.holdNext('POST', '/deposits');
    const { deposit } = await first.deposits.create(SOVR.toString(), authorizationWindow(nowSeconds(), 600));
    const answer = await held;
    expect(answer.status).toBe(200);
    const taken = JSON.parse(answer.body) as { depositId: string };
    // This worker only knows the outcome is unknown: still sending, the signed body stored.
    expect(deposit).toMatchObject({ status: 'sending', deposit: null, error: expect.stringMatching(/unreachable/) });
    expect(stored(local)).toEqual([expect.objectContaining({ status: 'sending', idempotencyKey: first.posts[0]!.key })]);

    // A new worker (same storage; nothing in memory survives) resumes it.
    const second = worker(p, local);
    await second.deposits.resume();
    expect(second.posts).toHaveLength(1);
    expect(second.posts[0]!.body).toBe(first.posts[0]!.body);
    expect(second.posts[0]).toMatchObject({ key: first.posts[0]!.key, status: 200, replayed: 'true' });
    expect(stored(local)).toEqual([
      expect.objectContaining({ id: deposit.id, status: 'completed', deposit: expect.objectContaining({ depositId: taken.depositId }) }),
    ]);

    expect(await depositsAtHub(p.s.user.id)).toEqual([taken.depositId]);
    expect(await hubAvailable(p.s)).toBe(SOVR);
    expect(await sovr.contract.balanceOf(treasury)).toBe(before + SOVR);
    await expectLedgerBalanced(hub.store.db);
  });

  it('the hub saying on the socket that a deposit moved cuts the poll short: it is read back at once', async () => {
    const p = await person(SOVR);
    const local = new MemoryStorage();
    // Polls an hour apart: only heard() can finish this within the test.
    const w = worker(p, local, { backoff: { firstMs: 3_600_000, maxMs: 3_600_000 } });
    const { deposit, settled } = await w.deposits.create(SOVR.toString(), authorizationWindow(nowSeconds(), 600));
    const depositId = deposit.deposit!.depositId;
    const atHub = async () =>
      (
        (await (await fetch(`${hub.url}/deposits/${depositId}`, { headers: { authorization: `Bearer ${p.s.accessToken}` } })).json()) as {
          status: string;
        }
      ).status;
    await expect.poll(atHub, { timeout: 20_000 }).toBe('completed');
    expect(stored(local)[0]).toMatchObject({ status: 'submitted' });
    // A deposit of someone else's (or unknown) changes nothing.
    await w.deposits.heard('dep_0000000000000000');
    expect(w.gets).toHaveLength(0);
    await w.deposits.heard(depositId);
    await settled;
    expect(stored(local)).toEqual([expect.objectContaining({ id: deposit.id, status: 'completed' })]);
    expect(w.gets).toHaveLength(1);
    expect(w.refreshed).toHaveLength(1);
    await expectLedgerBalanced(hub.store.db);
  });
});
