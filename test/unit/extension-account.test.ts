import { describe, expect, it } from 'vitest';
import type { Payment, PaymentStatusUpdate } from '../../shared/api.js';
import { applyUpdate, emptyView, mergePayments } from '../../extension/background/account-view.js';
import type { HubApi } from '../../extension/background/hub-api.js';
import { createLive, type AuthPayload, type LiveSocket } from '../../extension/background/live.js';
import { paymentsCsv } from '../../extension/common/csv.js';
import { AccountView, KEYS, type HubSession } from '../../extension/common/state.js';
import { MemoryStorage } from '../helpers/memory-storage.js';

const HUB = 'http://127.0.0.1:8402';
const pay = (id: string, status: Payment['status'], updatedAt: string, over: Partial<Payment> = {}): Payment => ({
  transactionId: id,
  status,
  rail: 'internal',
  payTo: 'm_1',
  amount: '1500',
  asset: 'SOVR',
  resource: { url: 'https://shop.example/a', method: 'GET' },
  description: null,
  failureReason: null,
  receipt: {},
  createdAt: `2026-01-01T00:00:0${id.slice(-1)}.000Z`,
  updatedAt,
  ...over,
});
const upd = (p: Payment, seq: number, previousStatus: Payment['status'] | null = null): PaymentStatusUpdate => ({
  ...p,
  previousStatus,
  seq,
});

describe('account view', () => {
  it('merges newest first and never moves a payment backwards', () => {
    const a1 = pay('pay_1', 'pending', '2026-01-01T00:00:01.000Z');
    const a2 = pay('pay_1', 'completed', '2026-01-01T00:00:02.000Z');
    const b = pay('pay_2', 'failed', '2026-01-01T00:00:03.000Z', { failureReason: 'rail said no' });
    expect(mergePayments([a2], [a1, b]).map((p) => `${p.transactionId}:${p.status}`)).toEqual(['pay_2:failed', 'pay_1:completed']);
    // Same updatedAt: the later state wins.
    const same = pay('pay_1', 'completed', '2026-01-01T00:00:01.000Z');
    expect(mergePayments([same], [a1])[0]!.status).toBe('completed');
  });

  it('dedupes updates by seq, applies late ones by time, and only raises the cursor', () => {
    const seen = new Set<number>();
    let v = emptyView(HUB, 'u_1');
    v = applyUpdate(v, upd(pay('pay_1', 'completed', '2026-01-01T00:00:02.000Z'), 5), seen)!;
    expect(applyUpdate(v, upd(pay('pay_1', 'completed', '2026-01-01T00:00:02.000Z'), 5), seen)).toBeNull();
    v = applyUpdate(v, upd(pay('pay_1', 'pending', '2026-01-01T00:00:01.000Z'), 4), seen)!;
    expect(v.lastSeq).toBe(5);
    expect(v.payments.map((p) => p.status)).toEqual(['completed']);
    expect(AccountView.safeParse(v).success).toBe(true);
  });

  it('exports CSV with amounts as base units, quoting and defusing formulas', () => {
    const csv = paymentsCsv([
      pay('pay_1', 'failed', 'u', {
        description: '=HYPERLINK("x"), "quoted"',
        failureReason: 'line\nbreak',
        amount: '123456789012345678901234567890',
      }),
    ]);
    const [head, row] = csv.split('\r\n');
    expect(head).toBe(
      'transactionId,createdAt,updatedAt,status,amount,asset,rail,payTo,method,resource,description,transactionHash,blockExplorerUrl,failureReason',
    );
    expect(row).toContain(',123456789012345678901234567890,SOVR,');
    expect(row).toContain(`"'=HYPERLINK(""x""), ""quoted"""`);
    expect(csv).toContain('"line\nbreak"');
  });
});

class FakeSocket implements LiveSocket {
  connected = false;
  active = true;
  handlers = new Map<string, ((arg?: unknown) => void)[]>();
  connects = 0;
  constructor(readonly auth: (cb: (d: AuthPayload) => void) => void) {}
  on(event: string, fn: (arg: never) => void) {
    this.handlers.set(event, [...(this.handlers.get(event) ?? []), fn as unknown as (arg?: unknown) => void]);
    return this;
  }
  emit(event: string, arg?: unknown) {
    for (const h of this.handlers.get(event) ?? []) h(arg);
  }
  handshake(): Promise<AuthPayload> {
    return new Promise((r) => this.auth(r));
  }
  connect() {
    this.connects++;
  }
  disconnect() {
    this.connected = false;
  }
}

describe('live status', () => {
  const settle = () => new Promise((r) => setTimeout(r, 10));
  function setup() {
    const session = new MemoryStorage();
    const hubSession: HubSession = {
      url: HUB,
      accessToken: 'at_1',
      user: { id: 'u_1', address: '0x0000000000000000000000000000000000000001' },
    };
    let restList: Payment[] = [pay('pay_1', 'pending', '2026-01-01T00:00:01.000Z')];
    const calls: string[] = [];
    const api = {
      account: async () => (
        calls.push('account'), { user: hubSession.user!, balances: [{ asset: 'SOVR', posted: '10', pending: '0', available: '10' }] }
      ),
      payments: async () => (calls.push('payments'), { data: restList, nextCursor: null }),
    } as unknown as HubApi;
    const sockets: FakeSocket[] = [];
    const followed: string[] = [];
    const deposits: string[] = [];
    const live = createLive({
      session,
      api,
      current: async () => hubSession,
      open: (_url, auth) => (sockets.push(new FakeSocket(auth)), sockets.at(-1)!),
      onUpdate: (p) => void followed.push(`${p.transactionId}:${p.status}`),
      onDeposit: (d) => void deposits.push(`${d.depositId}:${d.status}`),
    });
    return {
      session,
      live,
      sockets,
      calls,
      followed,
      deposits,
      setList: (l: Payment[]) => void (restList = l),
      view: () => AccountView.parse(session.peek(KEYS.account)),
    };
  }

  it('connects with the token, reconciles over REST on connect, applies updates and sends lastSeq on reconnect', async () => {
    const t = setup();
    await t.live.start();
    await t.live.start(); // idempotent
    expect(t.sockets).toHaveLength(1);
    const sock = t.sockets[0]!;
    expect(await sock.handshake()).toEqual({ token: 'at_1' });
    sock.emit('connect');
    await settle();
    expect(t.view()).toMatchObject({
      live: true,
      balances: [{ asset: 'SOVR', available: '10' }],
      payments: [{ transactionId: 'pay_1', status: 'pending' }],
    });

    sock.emit('paymentStatusUpdate', upd(pay('pay_1', 'completed', '2026-01-01T00:00:02.000Z'), 7, 'pending'));
    sock.emit('paymentStatusUpdate', upd(pay('pay_1', 'completed', '2026-01-01T00:00:02.000Z'), 7, 'pending'));
    sock.emit('paymentStatusUpdate', { garbage: true });
    await settle();
    expect(t.view()).toMatchObject({ lastSeq: 7, payments: [{ status: 'completed' }] });
    expect(await sock.handshake()).toEqual({ token: 'at_1', lastSeq: 7 });

    // Reconnect: the REST list (older than what the socket told) does not undo the update.
    sock.emit('disconnect');
    await settle();
    expect(t.view().live).toBe(false);
    sock.emit('connect');
    await settle();
    expect(t.view()).toMatchObject({ live: true, payments: [{ status: 'completed' }] });
    expect(t.calls.filter((c) => c === 'payments')).toHaveLength(2);
    // Followed: what the first reconcile found and each live update applied; the later reconcile's
    // copy is older than what the socket told, so it is not followed.
    expect(t.followed).toEqual(['pay_1:pending', 'pay_1:completed']);
  });

  it('a deposit update moves the cursor past its seq and is told once', async () => {
    const t = setup();
    await t.live.start();
    const sock = t.sockets[0]!;
    sock.emit('connect');
    await settle();
    const dep = {
      depositId: 'dep_AAAAAAAAAAAAAAAA',
      status: 'completed',
      asset: 'SOVR',
      amount: '5',
      from: '0x0000000000000000000000000000000000000001',
      transactionHash: `0x${'1'.repeat(64)}`,
      failureReason: null,
      createdAt: '2026-01-01T00:00:00.000Z',
      updatedAt: '2026-01-01T00:00:01.000Z',
      previousStatus: 'submitted',
      seq: 9,
    };
    sock.emit('depositStatusUpdate', dep);
    sock.emit('depositStatusUpdate', dep);
    sock.emit('depositStatusUpdate', { ...dep, seq: 'x' });
    await settle();
    expect(t.deposits).toEqual(['dep_AAAAAAAAAAAAAAAA:completed']);
    expect(t.view().lastSeq).toBe(9);
    expect(await sock.handshake()).toEqual({ token: 'at_1', lastSeq: 9 });
  });

  it('retries by itself after the hub refused the handshake, and forgets everything on sign-out', async () => {
    const t = setup();
    await t.live.start();
    const sock = t.sockets[0]!;
    sock.active = false;
    sock.emit('connect_error', new Error('unauthorized'));
    await new Promise((r) => setTimeout(r, 1100));
    expect(sock.connects).toBe(1);
    await t.live.signedOut();
    expect(t.session.peek(KEYS.account)).toBeUndefined();
  });
});

describe('balance after payment', () => {
  it('subtracts in bigint and says when it is not enough', async () => {
    const { balanceAfter } = await import('../../extension/common/format.js');
    const { tEn } = await import('../helpers/i18n-en.js');
    const balances = [{ asset: 'SOVR', available: '1000000000000000000000000000001' }];
    expect(balanceAfter(balances, { amount: '1', asset: 'SOVR' }, tEn, 'en-US')).toEqual({ text: '1,000,000,000,000 SOVR', short: false });
    expect(balanceAfter([{ asset: 'SOVR', available: '1000' }], { amount: '1500', asset: 'SOVR' }, tEn, 'en-US')).toEqual({
      text: '0.000000000000001 SOVR',
      short: true,
    });
    expect(balanceAfter(balances, { amount: '1', asset: 'BTC' }, tEn, 'en-US')).toBeNull();
  });
});
