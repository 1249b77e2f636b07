/**
 * Webhook URLs aimed at the hub's own network, as the review tried them, against a hub that
 * refuses private targets (TOLLWAY_WEBHOOK_ALLOW_PRIVATE=0). Two kinds:
 *
 * - Addresses written to slip past a check: loopback, 10/8, link-local metadata, IPv6 loopback,
 *   IPv4 inside IPv6 (mapped, NAT64, 6to4), and IPv4 in the forms the URL parser turns into a
 *   dotted address (one decimal number, hex, octal, short forms, full-width digits, a trailing
 *   dot). Each is refused at registration and on PUT with 400 validation-error, and nothing is
 *   stored.
 * - Names whose DNS answer changes (rebinding): public when the hub checks, private when it
 *   connects. The hub's real transport runs with an injected resolver and a real receiver waits
 *   on 127.0.0.1 at the port the name points to: it must never hear a request.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startHub, type Hub } from '../../server/app.js';
import { loadConfig } from '../../server/config.js';
import { createLogger } from '../../server/logger.js';
import type { ResolveAll } from '../../server/notify/webhooks-target.js';
import { dbFingerprint } from '../fuzz/kit.js';
import { ADMIN_TOKEN, createMerchant, freePort, fund, pay, signIn, type Session } from '../helpers/hub.js';
import { expectLedgerBalanced } from '../helpers/invariant.js';
import { freshStore, type TestStore } from '../helpers/stores.js';

const VALIDATION = 'https://tollway.dev/problems/validation-error';
/** A documentation-free public address the hub is told a name has; it is never connected to. */
const PUBLIC = '93.184.216.34';

let store: TestStore;
let hub: Hub;
let url: string;
let receiver: Server;
let receiverPort: number;
const heard: string[] = [];
/** Answers per name, consumed one per look-up; the last answer repeats. */
const dns = new Map<string, string[][]>();
const lookups: string[] = [];

const resolve: ResolveAll = async (host) => {
  lookups.push(host);
  const answers = dns.get(host);
  if (!answers?.length) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' });
  const now = answers.length > 1 ? answers.shift()! : answers[0]!;
  return now.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
};

beforeAll(async () => {
  receiver = createServer((req, res) => {
    heard.push(`${req.method} ${req.url}`);
    res.writeHead(204).end();
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', () => r()));
  receiverPort = (receiver.address() as AddressInfo).port;

  store = await freshStore('sqlite');
  const port = await freePort();
  const config = loadConfig({
    PORT: String(port),
    HOST: '127.0.0.1',
    TOLLWAY_DEV: '1', // the faucet
    TOLLWAY_WEBHOOK_ALLOW_PRIVATE: '0',
    TOLLWAY_ADMIN_TOKEN: ADMIN_TOKEN,
    TOLLWAY_DATA_DIR: store.env.TOLLWAY_DATA_DIR!,
    TOLLWAY_LOG_LEVEL: 'silent',
  });
  expect(config.webhookAllowPrivate).toBe(false);
  // No `fetch` given: deliveries go through the hub's own guarded transport, with this resolver.
  hub = await startHub({
    config,
    db: store.db,
    logger: createLogger('silent'),
    webhooks: { schedule: [60_000], timeoutMs: 2000, resolve },
  });
  url = hub.url;
});
afterEach(async () => expectLedgerBalanced(store.db));
afterAll(async () => {
  await hub?.close();
  await store?.cleanup();
  await new Promise((r) => receiver?.close(r));
});

// ---------------------------------------------------------------------------------------------

/** Each resolves to a blocked address once the URL parser has normalised it. */
const PRIVATE_URLS = [
  'http://127.0.0.1/hook',
  'http://127.0.0.1.:8402/hook', // a trailing dot
  'http://127.1/hook', // 127.0.0.1, short form
  'http://2130706433/hook', // 127.0.0.1 as one decimal number
  'http://0x7f000001/hook', // …in hex
  'http://0x7f.0.0.1/hook',
  'http://0177.0.0.1/hook', // …octal
  'http://017700000001/hook',
  'http://１２７.０.０.１/hook', // full-width digits, mapped to ASCII by IDNA
  'http://0/hook', // 0.0.0.0
  'http://0.0.0.0:8402/hook',
  'http://10.0.0.1/hook',
  'http://10.1/hook', // 10.0.0.1
  'http://167772161/hook', // 10.0.0.1 as one number
  'http://172.16.0.1/hook',
  'http://192.168.1.1/hook',
  'http://100.64.0.1/hook',
  'http://169.254.169.254/latest/meta-data/',
  'http://2852039166/latest/meta-data/', // 169.254.169.254 as one number
  'http://0xa9fea9fe/latest/meta-data/',
  'http://[::1]/hook',
  'http://[0:0:0:0:0:0:0:1]/hook',
  'http://[::]/hook',
  'http://[::ffff:127.0.0.1]/hook', // IPv4-mapped
  'http://[::ffff:7f00:1]/hook', // …written in hex
  'http://[::ffff:a9fe:a9fe]/', // mapped metadata address
  'http://[0:0:0:0:0:ffff:10.0.0.1]/hook',
  'http://[::127.0.0.1]/hook', // IPv4-compatible
  'http://[64:ff9b::7f00:1]/hook', // NAT64
  'http://[2002:7f00:1::]/hook', // 6to4 of 127.0.0.1
  'http://[fe80::1]/hook',
  'http://[fd00::1]/hook',
  'http://localhost/hook',
  'http://LOCALHOST./hook',
  'http://api.localhost/hook',
];

async function refusedAsInvalid(send: () => Promise<Response>, path: string): Promise<void> {
  const before = await dbFingerprint(store.db);
  const res = await send();
  const text = await res.text();
  expect(res.status, text).toBe(400);
  expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  const problem = JSON.parse(text) as { type: string; errors: { path: string }[] };
  expect(problem.type).toBe(VALIDATION);
  expect(problem.errors.map((e) => e.path)).toContain(path);
  expect(await dbFingerprint(store.db)).toBe(before);
}

describe('private webhook addresses, however written', () => {
  let shop: { merchant: { id: string }; apiKey: string };
  beforeAll(async () => {
    shop = await createMerchant(url, 'Shop with a public endpoint');
  });

  it.each(PRIVATE_URLS)('%s is refused at registration and on PUT, and nothing is stored', async (webhookUrl) => {
    await refusedAsInvalid(
      () =>
        fetch(`${url}/merchants`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${ADMIN_TOKEN}` },
          body: JSON.stringify({ name: 'Probe', webhookUrl }),
        }),
      'body.webhookUrl',
    );
    await refusedAsInvalid(
      () =>
        fetch(`${url}/merchants/${shop.merchant.id}/webhook`, {
          method: 'PUT',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${shop.apiKey}` },
          body: JSON.stringify({ url: webhookUrl }),
        }),
      'body.url',
    );
  });

  it('no look-up was needed to refuse any of them', () => {
    expect(lookups).toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------------

interface Attempt {
  statusCode: number | null;
  outcome: string;
  error: string | null;
}

describe('DNS rebinding', () => {
  let payer: Session;
  let k = 0;

  beforeAll(async () => {
    payer = await signIn(url);
    await fund(url, payer, '1000');
  });

  /** Registers a merchant whose endpoint is `name`, pays it once, and returns its first delivery attempt. */
  async function firstAttempt(name: string): Promise<Attempt> {
    const reg = await fetch(`${url}/merchants`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${ADMIN_TOKEN}` },
      body: JSON.stringify({ name: `Shop at ${name}`, webhookUrl: `http://${name}:${receiverPort}/hook` }),
    });
    // A name is accepted when it is set: its addresses are judged when the hub sends.
    expect(reg.status).toBe(201);
    const m = (await reg.json()) as { merchant: { id: string }; apiKey: string };
    const paid = await pay(url, payer, `rebind-${++k}`, { rail: 'internal', payTo: m.merchant.id, amount: '10', asset: 'SOVR' });
    expect(paid.status).toBe(200);
    let attempt: Attempt | undefined;
    await expect
      .poll(
        async () => {
          const res = await fetch(`${url}/merchants/${m.merchant.id}/webhook-deliveries`, {
            headers: { authorization: `Bearer ${m.apiKey}` },
          });
          const list = ((await res.json()) as { data: { attempts: Attempt[] }[] }).data;
          attempt = list[0]?.attempts[0];
          return attempt !== undefined;
        },
        { timeout: 10_000, interval: 25 },
      )
      .toBe(true);
    return attempt!;
  }

  it('a name public when checked and loopback when connecting is refused at the connection; the receiver hears nothing', async () => {
    dns.set('rebind.test', [[PUBLIC], ['127.0.0.1']]);
    const attempt = await firstAttempt('rebind.test');
    expect(attempt).toMatchObject({ statusCode: null, outcome: 'retrying' });
    expect(attempt.error).toMatch(/rebind\.test resolves to 127\.0\.0\.1, a loopback address/);
    // Checked, then looked up again by the connection itself: the second answer is the one refused.
    expect(lookups.filter((h) => h === 'rebind.test')).toHaveLength(2);
    expect(heard).toEqual([]);
  });

  it.each([
    ['mixed.test', [PUBLIC, '127.0.0.1']], // one private address among public ones is enough
    ['mapped.test', ['::ffff:127.0.0.1']],
    ['metadata.test', ['169.254.169.254']],
    ['ula.test', ['fd00::1']],
    ['zero.test', ['0.0.0.0']],
  ])('%s, resolving to a private address, is refused before any connection', async (name, addresses) => {
    dns.set(name, [addresses]);
    const attempt = await firstAttempt(name);
    expect(attempt).toMatchObject({ statusCode: null, outcome: 'retrying' });
    expect(attempt.error).toContain(`${name} resolves to`);
    expect(heard).toEqual([]);
  });

  it('a rebinding name on a later PUT is refused at delivery just the same', async () => {
    const shop = await createMerchant(url, 'Shop that moves');
    dns.set('later.test', [[PUBLIC], ['127.0.0.1']]);
    const put = await fetch(`${url}/merchants/${shop.merchant.id}/webhook`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${shop.apiKey}` },
      body: JSON.stringify({ url: `http://later.test:${receiverPort}/hook` }),
    });
    expect(put.status).toBe(200);
    // PUT looked nothing up: the check at delivery gets the public answer, the connection the loopback one.
    expect(lookups).not.toContain('later.test');
    const paid = await pay(url, payer, `rebind-${++k}`, { rail: 'internal', payTo: shop.merchant.id, amount: '10', asset: 'SOVR' });
    expect(paid.status).toBe(200);
    await expect
      .poll(
        async () => {
          const res = await fetch(`${url}/merchants/${shop.merchant.id}/webhook-deliveries`, {
            headers: { authorization: `Bearer ${shop.apiKey}` },
          });
          return ((await res.json()) as { data: { attempts: Attempt[] }[] }).data[0]?.attempts[0]?.error ?? null;
        },
        { timeout: 10_000, interval: 25 },
      )
      .toMatch(/later\.test resolves to 127\.0\.0\.1/);
    expect(heard).toEqual([]);
  });
});
