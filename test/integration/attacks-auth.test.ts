/**
 * Attacks on signing in and on live status that the review tried, kept over real HTTP and real
 * sockets (auth.test.ts checks the same SIWE rules on the service; this proves the routes keep
 * them): replayed SIWE messages and nonces, messages for another domain or another hub, and
 * sockets opened without a token, with a token that is not an access token, or with another
 * user's name in the handshake. Every refusal is checked against a fingerprint of the whole
 * database: a refused sign-in writes no user, no refresh token and spends no nonce.
 */
import { Wallet } from 'ethers';
import { SiweMessage } from 'siwe';
import { io, type Socket } from 'socket.io-client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { PaymentStatusUpdate } from '../../shared/api.js';
import { dbFingerprint } from '../fuzz/kit.js';
import { ADMIN_TOKEN, createMerchant, fund, pay, signIn, startTestHub, type Session, type TestHub } from '../helpers/hub.js';
import { expectLedgerBalanced } from '../helpers/invariant.js';

const INVALID_SIWE = 'https://tollway.dev/problems/invalid-siwe';

let t: TestHub;
let other: TestHub;

beforeAll(async () => {
  [t, other] = await Promise.all([startTestHub('sqlite'), startTestHub('sqlite')]);
});
afterEach(async () => expectLedgerBalanced(t.store.db));
afterAll(async () => {
  await Promise.all([t?.stop(), other?.stop()]);
});

const nonceAt = async (url: string) => ((await (await fetch(`${url}/auth/nonce`)).json()) as { nonce: string }).nonce;

function siwe(url: string, wallet: { address: string }, nonce: string, over: Partial<SiweMessage> = {}): string {
  return new SiweMessage({
    domain: new URL(url).host,
    address: wallet.address,
    statement: 'Sign in to Tollway',
    uri: url,
    version: '1',
    chainId: 1,
    nonce,
    issuedAt: new Date().toISOString(),
    ...over,
  }).prepareMessage();
}

const login = (url: string, message: string, signature: string) =>
  fetch(`${url}/auth/siwe`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ message, signature }),
  });

/** The attempt answers 401 invalid-siwe as problem+json, and the database is byte for byte what it was. */
async function refusedSignIn(attempt: () => Promise<Response>, detail?: RegExp): Promise<void> {
  const before = await dbFingerprint(t.store.db);
  const res = await attempt();
  const text = await res.text();
  expect(res.status, text).toBe(401);
  expect(res.headers.get('content-type') ?? '').toMatch(/^application\/problem\+json/);
  const problem = JSON.parse(text) as { type: string; detail: string };
  expect(problem.type).toBe(INVALID_SIWE);
  if (detail) expect(problem.detail).toMatch(detail);
  expect(await dbFingerprint(t.store.db)).toBe(before);
}

describe('SIWE replays', () => {
  it('the same message and signature a second time are refused', async () => {
    const wallet = Wallet.createRandom();
    const message = siwe(t.url, wallet, await nonceAt(t.url));
    const signature = await wallet.signMessage(message);
    expect((await login(t.url, message, signature)).status).toBe(200);
    await refusedSignIn(() => login(t.url, message, signature), /nonce/);
  });

  it('of many simultaneous replays of one signed message, exactly one signs in', async () => {
    const wallet = Wallet.createRandom();
    const message = siwe(t.url, wallet, await nonceAt(t.url));
    const signature = await wallet.signMessage(message);
    const statuses = await Promise.all(Array.from({ length: 6 }, () => login(t.url, message, signature).then((r) => r.status)));
    expect(statuses.filter((s) => s === 200)).toHaveLength(1);
    expect(statuses.filter((s) => s === 401)).toHaveLength(5);
    const user = await t.store.db.get<{ id: string }>('SELECT id FROM users WHERE address = ?', [wallet.address]);
    const sessions = await t.store.db.get<{ n: number | string }>('SELECT COUNT(*) AS n FROM refresh_tokens WHERE user_id = ?', [user!.id]);
    expect(Number(sessions!.n)).toBe(1);
  });

  it('a spent nonce is refused in a new message, by the same wallet or another', async () => {
    const wallet = Wallet.createRandom();
    const nonce = await nonceAt(t.url);
    const first = siwe(t.url, wallet, nonce);
    expect((await login(t.url, first, await wallet.signMessage(first))).status).toBe(200);
    for (const signer of [wallet, Wallet.createRandom()]) {
      const again = siwe(t.url, signer, nonce, {
        statement: 'Sign in to Tollway again',
        issuedAt: new Date(Date.now() + 1000).toISOString(),
      });
      await refusedSignIn(async () => login(t.url, again, await signer.signMessage(again)), /nonce/);
    }
  });

  it('a message signed for another domain or origin is refused, and leaves the nonce for the genuine one', async () => {
    const wallet = Wallet.createRandom();
    const nonce = await nonceAt(t.url);
    const { hostname, port } = new URL(t.url);
    for (const over of [
      { domain: 'evil.example', uri: 'https://evil.example/' },
      { domain: `${hostname}.evil.example:${port}` },
      { domain: 'evil.example' }, // the hub's uri, a phishing site's domain
      { uri: 'https://evil.example/' },
    ]) {
      const message = siwe(t.url, wallet, nonce, over);
      await refusedSignIn(async () => login(t.url, message, await wallet.signMessage(message)));
    }
    const good = siwe(t.url, wallet, nonce);
    expect((await login(t.url, good, await wallet.signMessage(good))).status).toBe(200);
  });

  it('a message signed for another hub is refused here, even unspent there', async () => {
    const wallet = Wallet.createRandom();
    const forOther = siwe(other.url, wallet, await nonceAt(other.url));
    const signature = await wallet.signMessage(forOther);
    await refusedSignIn(() => login(t.url, forOther, signature));
    // …and it was never this hub's to spend: the other hub still takes it.
    expect((await login(other.url, forOther, signature)).status).toBe(200);
  });

  it("another wallet's signature over a victim's message is refused", async () => {
    const victim = Wallet.createRandom();
    const message = siwe(t.url, victim, await nonceAt(t.url));
    await refusedSignIn(async () => login(t.url, message, await Wallet.createRandom().signMessage(message)), /signature/);
  });
});

// ---------------------------------------------------------------------------------------------

describe('sockets', () => {
  let alice: Session;
  let mallory: Session;
  let merchant: { merchant: { id: string }; apiKey: string };
  let k = 0;
  const sockets: Socket[] = [];
  const open = (auth: Record<string, unknown>) => {
    const s = io(t.url, { auth, transports: ['websocket'], reconnection: false, forceNew: true });
    sockets.push(s);
    return s;
  };
  const outcome = (s: Socket) =>
    new Promise<'connected' | 'refused'>((resolve) => {
      s.once('connect', () => resolve('connected'));
      s.once('connect_error', () => resolve('refused'));
    });
  const payOnce = async (who: Session) => {
    const res = await pay(t.url, who, `sock-${++k}`, { rail: 'internal', payTo: merchant.merchant.id, amount: '10', asset: 'SOVR' });
    expect(res.status).toBe(200);
    return ((await res.json()) as { transactionId: string }).transactionId;
  };

  beforeAll(async () => {
    alice = await signIn(t.url);
    mallory = await signIn(t.url);
    merchant = await createMerchant(t.url, 'Socket shop');
    await fund(t.url, alice, '1000');
    await fund(t.url, mallory, '1000');
  });
  afterAll(() => {
    for (const s of sockets.splice(0)) s.disconnect();
  });

  it('are refused without a token, or with anything that is not an access token of this hub', async () => {
    const otherHubUser = await signIn(other.url);
    const attempts: Record<string, Record<string, unknown>> = {
      'no auth': {},
      'empty token': { token: '' },
      'a number': { token: 42 },
      'a user id instead of a token': { userId: alice.user.id },
      'a refresh token': { token: alice.refreshToken },
      "a merchant's API key": { token: merchant.apiKey },
      'the admin token': { token: ADMIN_TOKEN },
      "another hub's access token": { token: otherHubUser.accessToken },
      'a token over 8 KB': { token: `${alice.accessToken}${'A'.repeat(9000)}` },
    };
    const before = await dbFingerprint(t.store.db);
    for (const [name, auth] of Object.entries(attempts)) {
      expect(await outcome(open(auth)), name).toBe('refused');
    }
    expect(await dbFingerprint(t.store.db)).toBe(before);
  });

  it("another user's socket sees nothing of a user's payments: not live, not replayed, not by naming them", async () => {
    const malloryOwn = await payOnce(mallory);
    await payOnce(alice); // before Mallory connects: only a replay could show it

    // Mallory names Alice in every way a handshake could, and asks to replay from the start.
    const m = open({ token: mallory.accessToken, lastSeq: 0, userId: alice.user.id, user: alice.user.id, room: `user:${alice.user.id}` });
    const seenByMallory: PaymentStatusUpdate[] = [];
    m.on('paymentStatusUpdate', (u: PaymentStatusUpdate) => seenByMallory.push(u));
    m.onAny((event: string) => {
      if (event !== 'paymentStatusUpdate') seenByMallory.push({ transactionId: `unexpected event ${event}` } as PaymentStatusUpdate);
    });
    const a = open({ token: alice.accessToken });
    const aliceLive = new Promise<PaymentStatusUpdate>((resolve) => a.once('paymentStatusUpdate', resolve));
    expect(await Promise.all([outcome(m), outcome(a)])).toEqual(['connected', 'connected']);
    // Clients send nothing but the handshake; a socket asking to join Alice's room is ignored.
    m.emit('join', `user:${alice.user.id}`);
    m.emit('subscribe', { userId: alice.user.id });

    const aliceNow = await payOnce(alice);
    expect((await aliceLive).transactionId).toBe(aliceNow);
    // Mallory's own payment arrives by replay; it is the marker that her socket was served.
    await expect.poll(() => seenByMallory.length, { timeout: 5000 }).toBeGreaterThanOrEqual(1);
    const mallorySecond = await payOnce(mallory);
    await expect.poll(() => seenByMallory.map((u) => u.transactionId), { timeout: 5000 }).toContain(mallorySecond);
    // Her live payment came after Alice's, on one ordered feed per socket: had Alice's reached her, it would be here by now.
    expect(new Set(seenByMallory.map((u) => u.transactionId))).toEqual(new Set([malloryOwn, mallorySecond]));
  });
});
