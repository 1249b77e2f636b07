/**
 * `npm start`'s orchestrator as a child process, the way a newcomer runs it (minus the extension
 * build): the hub and the demo shop answer on the ports the environment picks, the demo merchant is
 * registered once and reused by the next start, and SIGINT stops everything. Lightning runs locally
 * too: the hub's rail on a stand-in node, top-ups paid from the "outside wallet" with `hub dev-pay`,
 * and the demo shop's Lightning article paid by Alby's fetchWithL402 and fetchWithMpp through the hub.
 * Interledger too: the person links the local Interledger wallet, pays the article on the `ilp` rail,
 * approves on the wallet's consent page, and the receipt opens the article.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fetchWithL402 } from '@getalby/lightning-tools/402/l402';
import { fetchWithMpp } from '@getalby/lightning-tools/402';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_MERCHANT_FILE, type DemoMerchant } from '../../scripts/orchestrator.js';
import { openStore } from '../../server/store/index.js';
import { expectLedgerBalanced } from '../helpers/invariant.js';
import { LIGHTNING_DEVNET_FILE } from '../../devnet/local-lightning.js';
import { bolt11AmountMsat, encodePaymentSignature, parsePaymentRequired, readChallenge } from '../../shared/challenge.js';
import type { Topup } from '../../shared/topups.js';
import { balances, freePort, pay, signIn } from '../helpers/hub.js';

let dataDir: string;
const started: ChildProcess[] = [];

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'tollway-start-'));
});

afterAll(async () => {
  for (const p of started) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
  await rm(dataDir, { recursive: true, force: true });
});

interface Running {
  proc: ChildProcess;
  hub: string;
  shop: string;
  chain: string;
  output(): string;
  stop(signal?: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

async function start(env: Record<string, string> = {}): Promise<Running> {
  const [port, demoPort, chainPort, walletPort, ilpPort] = [
    await freePort(),
    await freePort(),
    await freePort(),
    await freePort(),
    await freePort(),
  ];
  let out = '';
  const childEnv: Record<string, string | undefined> = {
    ...process.env,
    PORT: String(port),
    DEMO_PORT: String(demoPort),
    CHAIN_PORT: String(chainPort),
    DEV_WALLET_PORT: String(walletPort),
    ILP_WALLET_PORT: String(ilpPort),
    TOLLWAY_DATA_DIR: dataDir,
    TOLLWAY_SKIP_EXTENSION_BUILD: '1',
    ...env,
  };
  // The orchestrator generates an admin token unless one is given: the test must not inherit one.
  if (!('TOLLWAY_ADMIN_TOKEN' in env)) delete childEnv.TOLLWAY_ADMIN_TOKEN;
  const proc = spawn(process.execPath, ['--import', 'tsx', 'scripts/start.ts'], { env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  started.push(proc);
  proc.stdout!.on('data', (d) => (out += d));
  proc.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) =>
    proc.once('exit', (code, signal) => r({ code, signal })),
  );
  const hub = `http://127.0.0.1:${port}`;
  const shop = `http://127.0.0.1:${demoPort}`;
  const deadline = Date.now() + 45_000;
  while (!out.includes('Ctrl-C stops everything')) {
    if (proc.exitCode !== null) throw new Error(`npm start exited with ${proc.exitCode}:\n${out}`);
    if (Date.now() > deadline) throw new Error(`npm start did not come up:\n${out}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    proc,
    hub,
    shop,
    chain: `http://127.0.0.1:${chainPort}`,
    output: () => out,
    stop(signal: NodeJS.Signals = 'SIGINT') {
      proc.kill(signal);
      return exited;
    },
  };
}

const answers = (url: string) =>
  fetch(url).then(
    (r) => r.status,
    () => 0,
  );
/** The local chain's id, or 0 when nothing answers. */
const chainId = (rpc: string) =>
  fetch(rpc, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'eth_chainId', params: [] }),
  }).then(
    async (r) => Number(((await r.json()) as { result: string }).result),
    () => 0,
  );
const codeAt = async (rpc: string, address: string) =>
  (
    (await (
      await fetch(rpc, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'eth_getCode', params: [address, 'latest'] }),
      })
    ).json()) as { result: string }
  ).result;

/** `npm run hub -- <args>` against the test's data directory. */
function hub(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', 'server/main.ts', ...args],
      { env: { ...process.env, TOLLWAY_DATA_DIR: dataDir, TOLLWAY_DEV_WALLET_URL: '' } },
      (err, stdout, stderr) => resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

/** Polls until `check` gives a value (20 s at most). */
async function until<T>(check: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('npm start', () => {
  it('runs the hub and the demo shop, seeds a merchant once, and stops on SIGINT', async () => {
    // The same Interledger wallet port both times: the merchant's wallet address stays the same.
    const ilpPort = String(await freePort());
    const first = await start({ ILP_WALLET_PORT: ilpPort });
    expect(await answers(`${first.hub}/readyz`)).toBe(200);
    expect(await answers(`${first.hub}/tollway.js`)).toBe(200);
    const article = await fetch(`${first.shop}/articles/toll-roads`, { headers: { accept: 'text/html' } });
    expect(article.status).toBe(402);
    expect(await article.text()).toContain(`${first.hub}/tollway.js`);

    const out = first.output();
    const kept = JSON.parse(await readFile(join(dataDir, DEMO_MERCHANT_FILE), 'utf8')) as DemoMerchant;
    expect(kept.merchantId).toMatch(/^m_/);
    expect(out).toContain(`demo merchant   ${kept.merchantId} (registered`);
    expect(out).toContain(`${first.shop}/articles/toll-roads`);
    expect(out).toMatch(/admin token {5}tw_admin_\S+ {3}\(generated/);
    expect(out).toContain('Load unpacked');
    // The local chain runs with SOVR deployed where the output says.
    expect(await chainId(first.chain)).toBe(31337);
    const token = /SOVR token at (0x[0-9a-fA-F]{40})/.exec(out)?.[1];
    expect(token).toBeDefined();
    expect((await codeAt(first.chain, token!)).length).toBeGreaterThan(1000);
    // The hub pays on that chain: GET /rails names the token, and the output the demo wallets.
    const rails = (await (await fetch(`${first.hub}/rails`)).json()) as { rails: { name: string; token?: string; chainId?: number }[] };
    expect(rails.rails.find((r) => r.name === 'sovr')).toMatchObject({ token, chainId: 31337 });
    expect(out).toMatch(/SOVR rail {7}on: service wallet 0x/);
    expect(out.match(/ {18}0x[0-9a-fA-F]{40} {2}key 0x[0-9a-f]{64}/g)).toHaveLength(3);
    // The API also lists the standard exact entry, settled by the hub as facilitator.
    const api = await fetch(`${first.shop}/api/quote?id=1`, { headers: { accept: 'application/json' } });
    const offered = JSON.parse(Buffer.from(api.headers.get('payment-required')!, 'base64').toString()) as {
      accepts: { scheme: string; network: string; asset: string }[];
    };
    expect(offered.accepts.map((a) => a.scheme)).toEqual(['tollway', 'exact']);
    expect(offered.accepts[1]).toMatchObject({ network: 'eip155:31337', asset: token });
    // The shop's challenge names the seeded merchant and the hub.
    const challenge = JSON.parse(Buffer.from(article.headers.get('payment-required')!, 'base64').toString()) as {
      accepts: { payTo: string; extra: { hub: string } }[];
    };
    expect(challenge.accepts[0]).toMatchObject({ payTo: kept.merchantId, extra: { hub: first.hub } });
    // The merchant's webhooks point at the shop.
    const hook = await fetch(`${first.hub}/merchants/${kept.merchantId}/webhook`, { headers: { authorization: `Bearer ${kept.apiKey}` } });
    expect(((await hook.json()) as { url: string }).url).toBe(`${first.shop}/webhooks/tollway`);

    const exit = await first.stop('SIGINT');
    expect(exit).toEqual({ code: 0, signal: null });
    expect(first.output()).toContain('tollway: stopped');
    expect(await answers(`${first.hub}/healthz`)).toBe(0);
    expect(await answers(`${first.shop}/healthz`)).toBe(0);
    expect(await chainId(first.chain)).toBe(0);

    // Second start, same data directory, other ports, a chosen admin token: the merchant is reused.
    const second = await start({ TOLLWAY_ADMIN_TOKEN: 'my-own-admin-token-123456', ILP_WALLET_PORT: ilpPort });
    expect(second.output()).toContain(`demo merchant   ${kept.merchantId} (reused`);
    expect(second.output()).toContain('my-own-admin-token-123456   (from TOLLWAY_ADMIN_TOKEN)');
    const again = JSON.parse(await readFile(join(dataDir, DEMO_MERCHANT_FILE), 'utf8')) as DemoMerchant;
    expect(again).toEqual(kept);
    const res = await fetch(`${second.shop}/api/quote?id=1`, { headers: { accept: 'application/json' } });
    expect(res.status).toBe(402);
    expect(((await res.json()) as { accepts: { payTo: string }[] }).accepts[0]!.payTo).toBe(kept.merchantId);

    expect(await second.stop('SIGTERM')).toEqual({ code: 0, signal: null });
    expect(await answers(`${second.hub}/healthz`)).toBe(0);
    expect(await answers(`${second.shop}/healthz`)).toBe(0);
  }, 120_000);

  it('builds the extension in the background: a failure is reported and the rest keeps running; SIGINT leaves no build process behind', async () => {
    // A stand-in for npm on the PATH (the real build would rewrite dist/): one that fails, one that hangs.
    const bin = await mkdtemp(join(tmpdir(), 'tollway-fakenpm-'));
    const pids = join(bin, 'pids');
    const npm = join(bin, 'npm');
    const noNpmCli = { npm_execpath: '', PATH: `${bin}:${process.env.PATH}`, TOLLWAY_SKIP_EXTENSION_BUILD: '' };
    try {
      await writeFile(npm, '#!/bin/sh\necho "vite: something broke in $*" >&2\nexit 3\n');
      await chmod(npm, 0o755);
      const failing = await start(noNpmCli);
      expect(failing.output()).toContain('Extension       building into');
      const deadline = Date.now() + 20_000;
      while (!failing.output().includes('build FAILED')) {
        if (Date.now() > deadline) throw new Error(failing.output());
        await new Promise((r) => setTimeout(r, 50));
      }
      expect(failing.output()).toContain('vite: something broke in run build');
      expect(await answers(`${failing.hub}/readyz`)).toBe(200);
      expect(await answers(`${failing.shop}/healthz`)).toBe(200);
      expect(await failing.stop('SIGINT')).toEqual({ code: 0, signal: null });

      await writeFile(npm, `#!/bin/sh\necho $$ >> ${pids}\nsleep 600 &\necho $! >> ${pids}\nwait\n`);
      const hanging = await start(noNpmCli);
      const spawned = async () => (await readFile(pids, 'utf8').catch(() => '')).split('\n').filter(Boolean).map(Number);
      const until = Date.now() + 20_000;
      while ((await spawned()).length < 2) {
        if (Date.now() > until) throw new Error('the build did not start');
        await new Promise((r) => setTimeout(r, 50));
      }
      expect(await hanging.stop('SIGINT')).toEqual({ code: 0, signal: null });
      const alive = (pid: number) => {
        try {
          process.kill(pid, 0);
          return true;
        } catch {
          return false;
        }
      };
      const gone = Date.now() + 5_000;
      while ((await spawned()).some(alive) && Date.now() < gone) await new Promise((r) => setTimeout(r, 50));
      expect((await spawned()).filter(alive)).toEqual([]);
    } finally {
      await rm(bin, { recursive: true, force: true });
    }
  }, 120_000);

  it('runs Lightning locally: a top-up paid with hub dev-pay is credited, and the Lightning article is paid by fetchWithL402 and fetchWithMpp through the hub and by QR from the outside wallet', async () => {
    const run = await start();
    const kept = JSON.parse(await readFile(join(dataDir, DEMO_MERCHANT_FILE), 'utf8')) as DemoMerchant;
    try {
      const rails = (await (await fetch(`${run.hub}/rails`)).json()) as { rails: { name: string }[] };
      expect(rails.rails.map((r) => r.name)).toContain('lightning');
      const walletUrl = /outside wallet {2}(http:\/\/\S+)/.exec(run.output())?.[1];
      expect(walletUrl).toBeDefined();
      expect(JSON.parse(await readFile(join(dataDir, LIGHTNING_DEVNET_FILE), 'utf8'))).toEqual({ walletUrl });
      expect(run.output()).toContain(`${run.shop}/lightning/articles/toll-roads`);

      // A newcomer tops up 200 sats: the hub's node issues the invoice, the outside wallet pays it.
      const session = await signIn(run.hub);
      const auth = { 'content-type': 'application/json', authorization: `Bearer ${session.accessToken}` };
      const created = await fetch(`${run.hub}/topups`, {
        method: 'POST',
        headers: { ...auth, 'idempotency-key': randomUUID() },
        body: JSON.stringify({ asset: 'BTC', amount: '200000' }),
      });
      expect(created.status).toBe(200);
      const topup = (await created.json()) as Topup;
      const devPay = await hub(['dev-pay', topup.bolt11]);
      expect(devPay.code, devPay.stderr).toBe(0);
      expect(devPay.stdout).toMatch(/^paid 200 sats from the outside wallet\npreimage [0-9a-f]{64}\n$/);
      const credited = await until(async () => {
        const t = (await (await fetch(`${run.hub}/topups/${topup.topupId}`, { headers: auth })).json()) as Topup;
        return t.status === 'credited' ? t : undefined;
      });
      expect(credited.creditedAmount).toBe('200000');
      expect((await balances(run.hub, session)).BTC?.available).toBe('200000');
      // The same invoice again is refused by its payee, and said so.
      const again = await hub(['dev-pay', topup.bolt11]);
      expect(again.code).toBe(1);
      expect(again.stderr).toContain('not paid');
      expect((await balances(run.hub, session)).BTC?.available).toBe('200000');

      // The shop's Lightning article: one 402 with tollway (BTC), L402 and Payment challenges.
      const article = `${run.shop}/lightning/articles/toll-roads`;
      const unpaid = await fetch(article);
      expect(unpaid.status).toBe(402);
      const offered = readChallenge({ headers: [{ name: 'www-authenticate', value: unpaid.headers.get('www-authenticate')! }] });
      if (!offered.ok) throw new Error(offered.error.message);
      expect(offered.value.l402).toMatchObject({ amountMsat: '21000' });
      expect(offered.value.payment).not.toBeNull();
      const x402 = JSON.parse(Buffer.from(unpaid.headers.get('payment-required')!, 'base64').toString()) as {
        accepts: { scheme: string; asset: string; amount: string }[];
      };
      expect(x402.accepts[0]).toMatchObject({ scheme: 'tollway', asset: 'BTC', amount: '21000' });

      // Alby's client, with a wallet that pays through the hub's Lightning rail from the topped-up balance.
      const paid: string[] = [];
      const wallet = {
        async payInvoice({ invoice }: { invoice: string }): Promise<{ preimage: string }> {
          paid.push(invoice);
          const res = await pay(run.hub, session, randomUUID(), {
            rail: 'lightning',
            payTo: invoice,
            amount: bolt11AmountMsat(invoice.toLowerCase())!.toString(),
            asset: 'BTC',
          });
          const p = (await res.json()) as { status: string; receipt: { preimage: string } };
          if (p.status !== 'completed') throw new Error(`the hub did not pay: ${JSON.stringify(p)}`);
          return { preimage: p.receipt.preimage };
        },
      };
      const viaL402 = await fetchWithL402(article, {}, { wallet });
      expect(viaL402.status).toBe(200);
      expect(await viaL402.text()).toContain('Paid 21 sats with L402');
      const viaMpp = await fetchWithMpp(article, {}, { wallet });
      expect(viaMpp.status).toBe(200);
      expect(await viaMpp.text()).toContain('Paid 21 sats with the Payment scheme');
      expect(paid).toHaveLength(2);
      // 42 sats left the balance (the stand-ins charge no routing fee).
      expect((await balances(run.hub, session)).BTC?.available).toBe('158000');

      // The QR flow without the extension: the tollway entry carries an invoice of the hub's node, the
      // outside wallet's page pays it (pasted as the QR code reads), and the hub's receipt opens the page.
      const pageHtml = await (await fetch(walletUrl!)).text();
      expect(pageHtml).toContain('<textarea name="invoice"');
      const fresh = await fetch(article, { headers: { accept: 'text/html' } });
      expect(fresh.status).toBe(402);
      const doc = JSON.parse(Buffer.from(fresh.headers.get('payment-required')!, 'base64').toString()) as {
        resource: { url: string };
        accepts: { scheme: string; extra: Record<string, unknown> }[];
      };
      const entry = doc.accepts.find((a) => a.scheme === 'tollway')!;
      const ln = (entry.extra as { lightning?: { invoice: string } }).lightning;
      expect(ln?.invoice).toMatch(/^lnbcrt210n1/);
      const form = await fetch(`${walletUrl}/pay`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ invoice: `lightning:${ln!.invoice.toUpperCase()}` }).toString(),
      });
      expect(form.status).toBe(200);
      expect(await form.text()).toMatch(/Paid 21 sats\. Preimage <code>[0-9a-f]{64}<\/code>/);
      const challengeId = String((entry.extra as { challengeId: string }).challengeId);
      const receipt = await until(async () => {
        const r = (await (await fetch(`${run.hub}/challenges/${challengeId}?merchant=${kept.merchantId}`)).json()) as { receipt?: string };
        return r.receipt;
      });
      const proof = encodePaymentSignature({ resource: doc.resource, accepted: entry, payload: { receipt } } as never);
      const opened = await fetch(article, { headers: { 'PAYMENT-SIGNATURE': proof } });
      expect(opened.status).toBe(200);
      expect(await opened.text()).toContain('Paid 21 sats through the hub');
      // The outside wallet paid, not the newcomer's balance.
      expect((await balances(run.hub, session)).BTC?.available).toBe('158000');
    } finally {
      expect(await run.stop('SIGINT')).toEqual({ code: 0, signal: null });
    }
    // Stopped: dev-pay says so instead of hanging.
    const after = await hub(['dev-pay', 'lnbcrt1']);
    expect(after.code).toBe(1);
    expect(after.stderr).toContain('no local Lightning network found');
  }, 120_000);

  it('runs the local Interledger wallet: the person links it, pays the article on the ilp rail, approves on its consent page, and the receipt opens the article', async () => {
    const run = await start();
    const out = run.output();
    const ilpOrigin = /Interledger {5}on: a local Open Payments wallet at (http:\/\/\S+)/.exec(out)?.[1];
    const [, person, opening, shopWallet] =
      /your ILP wallet (http:\/\/\S+) {3}\((\d+\.\d{9}) SOVR\); the shop's: (http:\/\/\S+)/.exec(out) ?? [];
    expect(ilpOrigin).toBeDefined();
    expect(person).toBe(`${ilpOrigin}/person`);
    expect(opening).toBe('100.000000000');
    const kept = JSON.parse(await readFile(join(dataDir, DEMO_MERCHANT_FILE), 'utf8')) as DemoMerchant;
    // Registered with the shop's wallet address (a merchant from another run had none, or another).
    expect(kept.walletAddress).toBe(shopWallet);
    expect(out).toContain(`${run.hub}/ilp/wallet {"walletAddress":"${person}"}`);
    /** The wallets' balances, in units at scale 9, as the orchestrator last printed them after an ilp payment. */
    const printed = () => {
      const all = [...run.output().matchAll(/local Interledger wallet: person (\d+)\.(\d{9}) SOVR, demo shop (\d+)\.(\d{9}) SOVR/g)];
      const m = all.at(-1);
      return m ? { person: BigInt(m[1]! + m[2]!), shop: BigInt(m[3]! + m[4]!) } : undefined;
    };
    let paymentId = '';
    try {
      const rails = (await (await fetch(`${run.hub}/rails`)).json()) as { rails: { name: string }[] };
      expect(rails.rails.map((r) => r.name)).toContain('ilp');

      // A newcomer signs in and links the local wallet.
      const session = await signIn(run.hub);
      const auth = { 'content-type': 'application/json', authorization: `Bearer ${session.accessToken}` };
      const linked = await fetch(`${run.hub}/ilp/wallet`, {
        method: 'PUT',
        headers: auth,
        body: JSON.stringify({ walletAddress: person }),
      });
      expect(linked.status).toBe(200);
      expect(await linked.json()).toMatchObject({ walletAddress: person, assetCode: 'SOVR', assetScale: 9 });

      // The article's tollway entry names the ilp rail and the shop's wallet.
      const article = `${run.shop}/articles/toll-roads`;
      const unpaid = await fetch(article, { headers: { accept: 'application/json' } });
      expect(unpaid.status).toBe(402);
      const parsed = parsePaymentRequired(unpaid.headers.get('payment-required')!);
      if (!parsed.ok) throw new Error(parsed.error.message);
      const entry = parsed.value.accepts.find((a) => a.scheme === 'tollway')!;
      expect(entry.extra?.interledger).toEqual({ rail: 'ilp', walletAddress: shopWallet });
      expect(entry).toMatchObject({ payTo: kept.merchantId, asset: 'SOVR', amount: '2000000000000000' });

      const res = await pay(run.hub, session, randomUUID(), {
        rail: 'ilp',
        payTo: entry.payTo,
        amount: entry.amount,
        asset: entry.asset,
        requirement: entry,
        resource: { url: parsed.value.resource!.url, method: 'GET' },
      });
      const pending = (await res.json()) as { transactionId: string; status: string; interact?: { redirect: string } };
      expect(res.status, JSON.stringify(pending)).toBe(200);
      expect(pending.status).toBe('pending');
      expect(pending.interact?.redirect.startsWith(`${ilpOrigin}/`)).toBe(true);
      paymentId = pending.transactionId;

      // The person approves on the wallet's own page: its Approve form, posted as a browser does,
      // redirects to the hub's /ilp/finish, which completes the payment.
      const consent = await fetch(pending.interact!.redirect, { headers: { accept: 'text/html' } });
      expect(consent.status).toBe(200);
      const html = await consent.text();
      const action = /<form method="post" action="([^"]+)"><button type="submit"[^>]*value="approve"/.exec(html)?.[1];
      expect(action).toBeDefined();
      const finished = await fetch(new URL(action!.replaceAll('&amp;', '&'), pending.interact!.redirect), {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: 'choice=approve',
      });
      expect(finished.url.startsWith(`${run.hub}/ilp/finish?`)).toBe(true);
      expect(finished.status).toBe(200);
      expect(await finished.text()).toMatch(/close this tab/);

      const done = await until(async () => {
        const p = (await (await fetch(`${run.hub}/payments/${paymentId}`, { headers: auth })).json()) as {
          status: string;
          rail: string;
          failureReason: string | null;
          receipt: { token?: string };
        };
        if (p.status === 'failed') throw new Error(`the payment failed: ${p.failureReason}`);
        return p.status === 'completed' ? p : undefined;
      });
      expect(done.rail).toBe('ilp');
      expect(done.receipt.token).toBeTruthy();

      // The demo shop takes the receipt for the article.
      const proof = encodePaymentSignature({ accepted: entry, payload: { receipt: done.receipt.token! } });
      const opened = await fetch(article, { headers: { accept: 'text/html', 'PAYMENT-SIGNATURE': proof } });
      expect(opened.status).toBe(200);
      expect(await opened.text()).toContain('A short history of toll roads');

      // The webhook reached the shop, and the wallets moved by exactly the price (0.002 SOVR: 2 000 000 units at scale 9).
      const after = await until(async () => printed());
      expect(run.output()).toContain(`demo shop: webhook payment.completed for ${paymentId}`);
      expect(after).toEqual({ person: 100_000_000_000n - 2_000_000n, shop: 2_000_000n });
    } finally {
      expect(await run.stop('SIGINT')).toEqual({ code: 0, signal: null });
    }
    // Stopped: the local wallet with it (and it broke no Open Payments spec, or stopping would say so).
    expect(await answers(`${person}`)).toBe(0);
    expect(run.output()).not.toContain('broke the Open Payments specs');
    // The hub's books: the payment posted from the mirror of the person's wallet to the payees outside the hub, balanced.
    const db = openStore({ dataDir });
    try {
      const row = await db.get<{ credits_posted: string | number }>('SELECT credits_posted FROM ledger_accounts WHERE id = ?', [
        'system:ilp-payees:SOVR',
      ]);
      expect(String(row?.credits_posted)).toBe('2000000000000000');
      const paid = await db.get<{ status: string }>('SELECT status FROM payments WHERE id = ?', [paymentId]);
      expect(paid?.status).toBe('completed');
      await expectLedgerBalanced(db);
    } finally {
      await db.close();
    }
  }, 120_000);

  it('stops with a message that names the variable when the configuration is bad', async () => {
    const proc = spawn(process.execPath, ['--import', 'tsx', 'scripts/start.ts'], {
      env: { ...process.env, PORT: 'eighty', TOLLWAY_DATA_DIR: dataDir, TOLLWAY_SKIP_EXTENSION_BUILD: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    started.push(proc);
    let err = '';
    proc.stderr!.on('data', (d) => (err += d));
    const code = await new Promise<number | null>((r) => proc.once('exit', r));
    expect(code).toBe(2);
    expect(err).toContain('PORT');
  });
});
