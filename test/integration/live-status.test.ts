import { io, type Socket } from 'socket.io-client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { PaymentStatusUpdate } from '../../shared/api.js';
import { createMerchant, fund, pay, signIn, startTestHub, type Session, type TestHub } from '../helpers/hub.js';
import { expectLedgerBalanced } from '../helpers/invariant.js';
import { ENGINES } from '../helpers/stores.js';

function connect(url: string, auth: Record<string, unknown>): Socket {
  return io(url, { auth, transports: ['websocket'], reconnection: false, forceNew: true });
}

function connected(s: Socket): Promise<void> {
  return new Promise((resolve, reject) => {
    s.once('connect', () => resolve());
    s.once('connect_error', (e) => reject(e));
  });
}

/**
 * Collects updates as a client does: delivery is at least once, so an update seen twice (a replay
 * racing the live feed) is dropped by its seq. Resolves with the first `n` distinct updates.
 */
function collect(s: Socket, n: number, timeoutMs = 10_000): Promise<PaymentStatusUpdate[]> {
  const got = new Map<number, PaymentStatusUpdate>();
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`got ${got.size} of ${n} updates`)), timeoutMs);
    s.on('paymentStatusUpdate', (u: PaymentStatusUpdate) => {
      if (got.size === n || got.has(u.seq)) return;
      got.set(u.seq, u);
      if (got.size === n) {
        clearTimeout(t);
        resolve([...got.values()]);
      }
    });
  });
}

describe.each(ENGINES)('live status through the hub on %s', (engine) => {
  let t: TestHub;
  let alice: Session;
  let bob: Session;
  let merchant: string;
  const sockets: Socket[] = [];
  const open = (auth: Record<string, unknown>) => {
    const s = connect(t.url, auth);
    sockets.push(s);
    return s;
  };
  let k = 0;
  const body = () => ({ rail: 'internal', payTo: merchant, amount: '10', asset: 'SOVR' });

  beforeAll(async () => {
    t = await startTestHub(engine);
    alice = await signIn(t.url);
    bob = await signIn(t.url);
    merchant = (await createMerchant(t.url)).merchant.id;
    await fund(t.url, alice, '1000000');
    await fund(t.url, bob, '1000000');
  });
  afterEach(async () => {
    for (const s of sockets.splice(0)) s.disconnect();
    await expectLedgerBalanced(t.store.db);
  });
  afterAll(async () => t?.stop());

  it('refuses a socket without a valid access token', async () => {
    await expect(connected(open({}))).rejects.toThrow();
    await expect(connected(open({ token: 'forged.token.value' }))).rejects.toThrow();
    await expect(connected(open({ token: bob.refreshToken }))).rejects.toThrow();
  });

  it('tells a user of their own completed payment, and nobody else', async () => {
    const a = open({ token: alice.accessToken });
    const b = open({ token: bob.accessToken });
    await Promise.all([connected(a), connected(b)]);
    const bobGot: PaymentStatusUpdate[] = [];
    b.on('paymentStatusUpdate', (u: PaymentStatusUpdate) => bobGot.push(u));
    const updates = collect(a, 2);
    const p1 = (await (await pay(t.url, alice, `live-${engine}-${++k}`, body())).json()) as { transactionId: string };
    const p2 = (await (await pay(t.url, alice, `live-${engine}-${++k}`, body())).json()) as { transactionId: string };
    const [first, second] = await updates;
    // The internal rail settles in the transaction that creates the payment: one update each.
    expect(first).toMatchObject({ transactionId: p1.transactionId, status: 'completed', previousStatus: null });
    expect(second).toMatchObject({ transactionId: p2.transactionId, status: 'completed', previousStatus: null });
    expect(second!.receipt.token).toBeTruthy();
    expect(second!.seq).toBe(first!.seq + 1);
    await new Promise((r) => setTimeout(r, 300));
    expect(bobGot).toEqual([]);
  });

  it('replays what a client missed since lastSeq, from the database', async () => {
    const a = open({ token: alice.accessToken });
    await connected(a);
    const one = collect(a, 1);
    await pay(t.url, alice, `live-${engine}-${++k}`, body());
    const seen = await one;
    const lastSeq = seen[seen.length - 1]!.seq;
    a.disconnect();

    // Three payments while the client is away: three updates it must get on reconnect.
    const missed: string[] = [];
    for (let i = 0; i < 3; i++)
      missed.push(((await (await pay(t.url, alice, `live-${engine}-${++k}`, body())).json()) as { transactionId: string }).transactionId);

    const again = open({ token: alice.accessToken, lastSeq });
    const replayed = collect(again, 3);
    await connected(again);
    // A replay may race the live feed, so a client orders what it got by seq; nothing may be missing.
    const got = (await replayed).sort((x, y) => x.seq - y.seq);
    expect(got.map((u) => u.seq)).toEqual([lastSeq + 1, lastSeq + 2, lastSeq + 3]);
    expect(got.map((u) => `${u.transactionId}:${u.status}`)).toEqual(missed.map((id) => `${id}:completed`));
  });
});
