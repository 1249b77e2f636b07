/**
 * The hub's /challenges socket namespace: a page that holds a 402 challenge (the snippet without
 * the extension) hears that it was paid, knowing nothing but the challenge id and its merchant
 * (the entry's payTo). Nothing about the payer reaches it, other challenges stay silent, a payment
 * that finished before the page connected is announced at once, and a payment to another merchant
 * that names this challenge id is never announced.
 */
import { io, type Socket } from 'socket.io-client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createMerchant, fund, pay, signIn, startTestHub, type Session, type TestHub } from '../helpers/hub.js';
import { expectLedgerBalanced } from '../helpers/invariant.js';
import { ENGINES } from '../helpers/stores.js';

interface ChallengeStatus {
  challengeId: string;
  status: string;
}

describe.each(ENGINES)('challenge status on %s', (engine) => {
  let t: TestHub;
  let alice: Session;
  let merchant: string;
  let bob: Session;
  let bobsMerchant: string;
  const sockets: Socket[] = [];
  let n = 0;
  const challengeId = () => `ch_${(++n).toString().padStart(4, '0')}${Math.random().toString(36).slice(2, 14)}`;

  const listen = (auth: Record<string, unknown>): Socket => {
    const s = io(`${t.url}/challenges`, { auth, transports: ['websocket'], reconnection: false, forceNew: true });
    sockets.push(s);
    return s;
  };
  const connected = (s: Socket) =>
    new Promise<void>((resolve, reject) => {
      s.once('connect', () => resolve());
      s.once('connect_error', (e) => reject(e));
    });
  const next = (s: Socket, timeoutMs = 10_000) =>
    new Promise<ChallengeStatus>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no challengeStatus')), timeoutMs);
      s.once('challengeStatus', (u: ChallengeStatus) => {
        clearTimeout(timer);
        resolve(u);
      });
    });
  const payChallenge = (id: string, amount = '25', payer = alice, payTo = merchant) => {
    const requirement = {
      scheme: 'tollway',
      network: `tollway:${new URL(t.url).origin}`,
      amount,
      asset: 'SOVR',
      payTo,
      maxTimeoutSeconds: 60,
      extra: { hub: t.url, challengeId: id, bind: ['method', 'path'] },
    };
    return pay(t.url, payer, `k-${payTo}-${id}`, {
      rail: 'internal',
      payTo,
      amount,
      asset: 'SOVR',
      requirement,
      resource: { url: 'https://shop.example/a', method: 'GET' },
    });
  };
  /** Waits long enough for a stray event to arrive before saying none did. */
  const settle = () => new Promise((r) => setTimeout(r, 300));

  beforeAll(async () => {
    t = await startTestHub(engine);
    alice = await signIn(t.url);
    merchant = (await createMerchant(t.url)).merchant.id;
    await fund(t.url, alice, '1000000');
    bob = await signIn(t.url);
    bobsMerchant = (await createMerchant(t.url, "Bob's own shop")).merchant.id;
    await fund(t.url, bob, '1000');
  });
  afterEach(async () => {
    for (const s of sockets.splice(0)) s.close();
    await expectLedgerBalanced(t.store.db);
  });
  afterAll(async () => {
    await t?.stop();
  });

  it('refuses a connection without a well-formed challenge id', async () => {
    await expect(connected(listen({}))).rejects.toThrow(/challengeId/);
    await expect(connected(listen({ challengeId: 'not-a-challenge', merchantId: merchant }))).rejects.toThrow(/challengeId/);
    await expect(connected(listen({ challengeId: `ch_${'x'.repeat(200)}`, merchantId: merchant }))).rejects.toThrow(/challengeId/);
  });

  it("refuses a connection that does not name the challenge's merchant", async () => {
    await expect(connected(listen({ challengeId: challengeId() }))).rejects.toThrow(/merchantId/);
    await expect(connected(listen({ challengeId: challengeId(), merchantId: 42 }))).rejects.toThrow(/merchantId/);
    await expect(connected(listen({ challengeId: challengeId(), merchantId: `${merchant}:x` }))).rejects.toThrow(/merchantId/);
  });

  it("never announces a payment to another merchant that names this page's challenge id", async () => {
    const victims = challengeId();
    const page = listen({ challengeId: victims, merchantId: merchant });
    await connected(page);
    let heard = 0;
    page.on('challengeStatus', () => heard++);
    // Bob pays 1 unit to his own merchant, claiming to answer the challenge alice's shop issued.
    const forged = await payChallenge(victims, '1', bob, bobsMerchant);
    expect(forged.status).toBe(200);
    expect(((await forged.json()) as { status: string }).status).toBe('completed');
    await settle();
    expect(heard).toBe(0);

    // A page that connects (or reconnects) afterwards is not told it was paid either.
    const late = listen({ challengeId: victims, merchantId: merchant });
    late.on('challengeStatus', () => heard++);
    await connected(late);
    await settle();
    expect(heard).toBe(0);

    // The challenge itself still works: paying the merchant that issued it opens the page.
    const opened = next(page);
    expect((await payChallenge(victims)).status).toBe(200);
    expect(await opened).toEqual({ challengeId: victims, status: 'completed' });
  });

  it('announces the payment of this challenge, and only the status', async () => {
    const mine = challengeId();
    const other = challengeId();
    const a = listen({ challengeId: mine, merchantId: merchant });
    const b = listen({ challengeId: other, merchantId: merchant });
    await Promise.all([connected(a), connected(b)]);
    let otherHeard = 0;
    b.on('challengeStatus', () => otherHeard++);
    const heard = next(a);
    expect((await payChallenge(mine)).status).toBe(200);
    expect(await heard).toEqual({ challengeId: mine, status: 'completed' });
    // Give a stray event time to arrive before saying none did.
    await new Promise((r) => setTimeout(r, 300));
    expect(otherHeard).toBe(0);
  });

  it('tells a page that connects after the payment at once', async () => {
    const id = challengeId();
    expect((await payChallenge(id)).status).toBe(200);
    const late = listen({ challengeId: id, merchantId: merchant });
    const heard = next(late);
    await connected(late);
    expect(await heard).toEqual({ challengeId: id, status: 'completed' });
  });

  it('serves the official client for pages (/socket.io/socket.io.min.js)', async () => {
    const res = await fetch(`${t.url}/socket.io/socket.io.min.js`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/javascript/);
    expect((await res.text()).length).toBeGreaterThan(10_000);
  });
});
