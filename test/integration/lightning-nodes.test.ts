/**
 * The hub's Lightning rail paying through a Core Lightning node (clnrest) and through an LNbits
 * wallet, each a stand-in speaking its documented wire format, on the simulated network it shares
 * with the merchant's node (a stand-in LND): the rail knows only LightningNode. Every scenario runs
 * on SQLite and PostgreSQL and ends with the ledger invariant checked.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startFakeCln } from '../../devnet/cln.js';
import { createSimulatedNetwork, type SimulatedNetwork } from '../../devnet/lightning-network.js';
import { startFakeLnbits } from '../../devnet/lnbits.js';
import { type FakeLnd, makeInvoice, startFakeLnd } from '../../devnet/lnd.js';
import { loadConfig } from '../../server/config.js';
import { runDoctor } from '../../server/doctor.js';
import { createLogger } from '../../server/logger.js';
import { balances, fund, pay, signIn, startTestHub, type Session, type TestHub } from '../helpers/hub.js';
import { expectLedgerBalanced } from '../helpers/invariant.js';
import { ENGINES, type Engine } from '../helpers/stores.js';

type P = { transactionId: string; status: string; amount: string; failureReason: string | null; receipt: { preimage?: string } };
const sha256hex = (hex: string) => createHash('sha256').update(Buffer.from(hex, 'hex')).digest('hex');
const lnBody = (payTo: string, amount: bigint) => ({ rail: 'lightning', payTo, amount: String(amount), asset: 'BTC' });

/** The hub's node of one kind: how the hub is told about it, and the stand-in's knobs. */
interface HubNode {
  env: Record<string, string>;
  /** Secrets that must never reach a log. */
  secrets: string[];
  /** Payments the node took (attempts), for "sent once". */
  attempts(): number;
  cutNextPayment(): void;
  close(): Promise<void>;
}

async function clnNode(net: SimulatedNetwork): Promise<HubNode> {
  const cln = await startFakeCln({ lightningNetwork: net });
  return {
    env: { TOLLWAY_LIGHTNING_NODE: 'cln', TOLLWAY_CLN_REST_URL: cln.url, TOLLWAY_CLN_RUNE: cln.rune },
    secrets: [cln.rune],
    attempts: () => cln.pays().length,
    cutNextPayment: () => cln.crashAfterAccept(),
    close: () => cln.close(),
  };
}

async function lnbitsNode(net: SimulatedNetwork): Promise<HubNode> {
  const lnbits = await startFakeLnbits({ lightningNetwork: net });
  return {
    env: {
      TOLLWAY_LIGHTNING_NODE: 'lnbits',
      TOLLWAY_LNBITS_URL: lnbits.url,
      TOLLWAY_LNBITS_ADMIN_KEY: lnbits.adminKey,
      TOLLWAY_LNBITS_INVOICE_KEY: lnbits.invoiceKey,
    },
    secrets: [lnbits.adminKey, lnbits.invoiceKey],
    attempts: () => lnbits.paymentsOut().length,
    cutNextPayment: () => lnbits.crashAfterAccept(),
    close: () => lnbits.close(),
  };
}

const CASES = ENGINES.flatMap((engine) =>
  (
    [
      ['cln', clnNode],
      ['lnbits', lnbitsNode],
    ] as const
  ).map(([kind, start]) => [kind, engine, start] as const),
);

describe.each(CASES)('Lightning rail through %s on %s', (_kind, engine: Engine, start) => {
  let merchant: FakeLnd;
  let node: HubNode;
  let t: TestHub;
  let s: Session;
  let k = 0;
  let logged = '';
  const key = () => `ln-${_kind}-${engine}-${++k}`;

  beforeAll(async () => {
    const net = createSimulatedNetwork();
    merchant = await startFakeLnd({ lightningNetwork: net });
    node = await start(net);
    const sink = new Writable({
      write(chunk, _enc, done) {
        logged += String(chunk);
        done();
      },
    });
    t = await startTestHub(engine, { env: { ...node.env, TOLLWAY_LIGHTNING_WAIT: '5' }, logger: createLogger('trace', sink) });
    s = await signIn(t.url);
    await fund(t.url, s, '10000000', 'BTC');
  });
  afterEach(async () => {
    await expectLedgerBalanced(t.store.db);
  });
  afterAll(async () => {
    await t?.stop();
    await node?.close();
    await merchant?.close();
  });

  it("pays the merchant's invoice (another node software): completed with its preimage, exactly the amount moves", async () => {
    const inv = merchant.addInvoice({ valueMsat: 1_500_000n, memo: 'an article' });
    const before = await balances(t.url, s);
    const p = (await (await pay(t.url, s, key(), lnBody(inv.paymentRequest, 1_500_000n))).json()) as P;
    expect(p).toMatchObject({ status: 'completed', amount: '1500000', failureReason: null });
    expect(p.receipt.preimage).toBe(inv.preimageHex);
    expect(sha256hex(p.receipt.preimage!)).toBe(inv.paymentHashHex);
    expect(merchant.invoiceState(inv.paymentHashHex)).toBe('SETTLED');
    const after = await balances(t.url, s);
    expect(BigInt(before.BTC!.posted) - BigInt(after.BTC!.posted)).toBe(1_500_000n);
    expect(after.BTC!.pending).toBe('0');
  });

  it('refuses a second payment of the same invoice (409) and sends nothing', async () => {
    const inv = merchant.addInvoice({ valueMsat: 2_000_000n });
    expect(((await (await pay(t.url, s, key(), lnBody(inv.paymentRequest, 2_000_000n))).json()) as P).status).toBe('completed');
    const attempts = node.attempts();
    const r = await pay(t.url, s, key(), lnBody(inv.paymentRequest, 2_000_000n));
    expect(r.status).toBe(409);
    expect(node.attempts()).toBe(attempts);
  });

  it('fails, with the funds back, an invoice no node on the network issued', async () => {
    const foreign = makeInvoice({ valueMsat: 3_000_000n });
    const before = await balances(t.url, s);
    const p = (await (await pay(t.url, s, key(), lnBody(foreign.paymentRequest, 3_000_000n))).json()) as P;
    expect(p.status).toBe('failed');
    expect(p.failureReason).toBeTruthy();
    expect(await balances(t.url, s)).toEqual(before);
  });

  it('when the answer is cut off after the node took the payment, asks the node instead of paying again', async () => {
    const inv = merchant.addInvoice({ valueMsat: 4_000_000n });
    const attempts = node.attempts();
    node.cutNextPayment();
    const p = (await (await pay(t.url, s, key(), lnBody(inv.paymentRequest, 4_000_000n))).json()) as P;
    const final =
      p.status === 'completed'
        ? p
        : await (async () => {
            for (let i = 0; i < 200; i++) {
              const g = (await (
                await fetch(`${t.url}/payments/${p.transactionId}`, { headers: { authorization: `Bearer ${s.accessToken}` } })
              ).json()) as P;
              if (g.status === 'completed' || g.status === 'failed') return g;
              await new Promise((r) => setTimeout(r, 50));
            }
            throw new Error('the payment never ended');
          })();
    expect(final.status).toBe('completed');
    expect(final.receipt.preimage).toBe(inv.preimageHex);
    expect(node.attempts()).toBe(attempts + 1);
  });

  it('never logs its credentials', () => {
    expect(logged.length).toBeGreaterThan(0);
    for (const secret of node.secrets) expect(logged).not.toContain(secret);
  });
});

describe.each([
  ['cln', clnNode, /Core Lightning v25\.02/],
  ['lnbits', lnbitsNode, /tollway-fake-lnbits \(a wallet: no node key\) on an unknown network, LNbits/],
] as const)('doctor with a %s node', (_kind, start, line) => {
  it('reports the node it reaches, or FAIL and exit 1 with credentials it refuses', async () => {
    const node = await start(createSimulatedNetwork());
    const dir = mkdtempSync(join(tmpdir(), 'tollway-ln-doctor-'));
    const run = async (env: Record<string, string>) => {
      let out = '';
      const sink = new Writable({
        write(chunk, _e, done) {
          out += String(chunk);
          done();
        },
      });
      return { code: await runDoctor(loadConfig({ TOLLWAY_DATA_DIR: dir, ...env }), sink), out };
    };
    try {
      const good = await run(node.env);
      expect(good.code).toBe(0);
      expect(good.out).toMatch(line);
      const wrong = Object.fromEntries(
        Object.entries(node.env).map(([k, v]) => [k, /RUNE|KEY/.test(k) ? `${'x'.repeat(20)}${k.length}` : v]),
      );
      const bad = await run(wrong);
      expect(bad.code).toBe(1);
      expect(bad.out).toMatch(/FAIL /);
      for (const secret of node.secrets) expect(bad.out + good.out).not.toContain(secret);
    } finally {
      await node.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
