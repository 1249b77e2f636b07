import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../server/config.js';

describe('configuration', () => {
  it('has working defaults', () => {
    const c = loadConfig({});
    expect(c).toMatchObject({
      port: 8402,
      host: '127.0.0.1',
      publicUrl: 'http://127.0.0.1:8402',
      dataDir: './data',
      dev: false,
      corsOrigins: [],
    });
    expect(c.databaseUrl).toBeUndefined();
  });
  it('reads every variable', () => {
    const c = loadConfig({
      PORT: '9000',
      HOST: '0.0.0.0',
      TOLLWAY_PUBLIC_URL: 'https://hub.example/',
      TOLLWAY_DEV: '1',
      TOLLWAY_ADMIN_TOKEN: 'a'.repeat(20),
      DATABASE_URL: 'postgres://u@h/db',
      REDIS_URL: 'redis://127.0.0.1:6379',
      TOLLWAY_CORS_ORIGINS: 'https://a.example, https://b.example',
      TOLLWAY_PAYMENT_TIMEOUT: '60',
    });
    expect(c).toMatchObject({
      port: 9000,
      publicUrl: 'https://hub.example',
      dev: true,
      databaseUrl: 'postgres://u@h/db',
      corsOrigins: ['https://a.example', 'https://b.example'],
      paymentTimeout: 60,
    });
  });
  it.each([
    ['PORT', 'eighty'],
    ['PORT', '70000'],
    ['TOLLWAY_DEV', 'maybe'],
    ['TOLLWAY_ADMIN_TOKEN', 'short'],
    ['DATABASE_URL', 'mysql://x'],
    ['REDIS_URL', 'http://x'],
    ['TOLLWAY_PUBLIC_URL', 'not a url'],
    ['TOLLWAY_LOG_LEVEL', 'loud'],
    ['TOLLWAY_PAYMENT_TIMEOUT', '-5'],
  ])('stops on a bad %s and names it', (name, value) => {
    expect(() => loadConfig({ [name]: value })).toThrow(ConfigError);
    expect(() => loadConfig({ [name]: value })).toThrow(new RegExp(name));
  });
});

describe('Lightning configuration', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tollway-config-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const file = (name: string, content: string | Buffer) => {
    const p = join(dir, name);
    writeFileSync(p, content);
    return p;
  };
  const node = { TOLLWAY_LND_REST_URL: 'https://127.0.0.1:8080/', TOLLWAY_LND_MACAROON: '0201036C6E64' };

  it('is off unless a node is named', () => {
    expect(loadConfig({}).rails.lightning).toBeUndefined();
  });

  it('is on with a URL and a macaroon, with documented defaults', () => {
    const c = loadConfig(node).rails.lightning!;
    expect(c).toMatchObject({
      restUrl: 'https://127.0.0.1:8080',
      feeLimitMsat: 10_000n,
      feeLimitPpm: 10_000n,
      payTimeoutSeconds: 60,
      settleWaitMs: 10_000,
    });
    expect(c.macaroonHex).toBe('0201036c6e64');
    expect(c.tlsCert).toBeUndefined();
  });

  it('keeps the macaroon out of anything that serialises the configuration', () => {
    const c = loadConfig(node);
    expect(JSON.stringify(c, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))).not.toContain('0201036');
    expect(Object.keys(c.rails.lightning!)).not.toContain('macaroonHex');
  });

  it('reads the fee limit, pay timeout and wait', () => {
    const c = loadConfig({
      ...node,
      TOLLWAY_LIGHTNING_FEE_LIMIT_MSAT: '5000',
      TOLLWAY_LIGHTNING_FEE_LIMIT_PERCENT: '0.25',
      TOLLWAY_LIGHTNING_PAY_TIMEOUT: '30',
      TOLLWAY_LIGHTNING_WAIT: '0.5',
    }).rails.lightning!;
    expect(c).toMatchObject({ feeLimitMsat: 5000n, feeLimitPpm: 2500n, payTimeoutSeconds: 30, settleWaitMs: 500 });
    expect(loadConfig({ ...node, TOLLWAY_LIGHTNING_FEE_LIMIT_PERCENT: '100' }).rails.lightning!.feeLimitPpm).toBe(1_000_000n);
  });

  it("reads the macaroon from LND's binary file, or a hex one, and the TLS certificate", () => {
    const bin = file('admin.macaroon', Buffer.from('0201036c6e6402f801', 'hex'));
    const hex = file('hex.macaroon', '0201036C6E64\n');
    const cert = file('tls.cert', '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n');
    const a = loadConfig({ TOLLWAY_LND_REST_URL: 'https://lnd:8080', TOLLWAY_LND_MACAROON_PATH: bin, TOLLWAY_LND_TLS_CERT_PATH: cert })
      .rails.lightning!;
    expect(a.macaroonHex).toBe('0201036c6e6402f801');
    expect(a.tlsCert).toContain('BEGIN CERTIFICATE');
    expect(loadConfig({ TOLLWAY_LND_REST_URL: 'https://lnd:8080', TOLLWAY_LND_MACAROON_PATH: hex }).rails.lightning!.macaroonHex).toBe(
      '0201036c6e64',
    );
  });

  it.each([
    [{ TOLLWAY_LND_REST_URL: 'https://lnd:8080' }, 'TOLLWAY_LND_MACAROON'],
    [{ TOLLWAY_LND_MACAROON: 'abcd' }, 'TOLLWAY_LND_REST_URL'],
    [{ TOLLWAY_LND_REST_URL: 'ftp://lnd', TOLLWAY_LND_MACAROON: 'abcd' }, 'TOLLWAY_LND_REST_URL'],
    [{ ...node, TOLLWAY_LND_MACAROON: 'not hex' }, 'TOLLWAY_LND_MACAROON'],
    [{ ...node, TOLLWAY_LND_MACAROON: 'abc' }, 'TOLLWAY_LND_MACAROON'],
    [{ ...node, TOLLWAY_LND_MACAROON_PATH: '/x' }, 'TOLLWAY_LND_MACAROON_PATH'],
    [{ TOLLWAY_LND_REST_URL: 'https://lnd:8080', TOLLWAY_LND_MACAROON_PATH: '/nonexistent/admin.macaroon' }, 'TOLLWAY_LND_MACAROON_PATH'],
    [{ ...node, TOLLWAY_LND_TLS_CERT_PATH: '/nonexistent/tls.cert' }, 'TOLLWAY_LND_TLS_CERT_PATH'],
    [{ ...node, TOLLWAY_LIGHTNING_FEE_LIMIT_MSAT: '-1' }, 'TOLLWAY_LIGHTNING_FEE_LIMIT_MSAT'],
    [{ ...node, TOLLWAY_LIGHTNING_FEE_LIMIT_MSAT: '1.5' }, 'TOLLWAY_LIGHTNING_FEE_LIMIT_MSAT'],
    [{ ...node, TOLLWAY_LIGHTNING_FEE_LIMIT_PERCENT: '101' }, 'TOLLWAY_LIGHTNING_FEE_LIMIT_PERCENT'],
    [{ ...node, TOLLWAY_LIGHTNING_FEE_LIMIT_PERCENT: '1%' }, 'TOLLWAY_LIGHTNING_FEE_LIMIT_PERCENT'],
    [{ ...node, TOLLWAY_LIGHTNING_PAY_TIMEOUT: '0' }, 'TOLLWAY_LIGHTNING_PAY_TIMEOUT'],
    [{ ...node, TOLLWAY_LIGHTNING_WAIT: 'soon' }, 'TOLLWAY_LIGHTNING_WAIT'],
  ])('stops on %j and names %s', (env, name) => {
    expect(() => loadConfig(env)).toThrow(ConfigError);
    expect(() => loadConfig(env)).toThrow(new RegExp(name));
  });

  it('refuses a certificate that is not PEM, and plain HTTP with a certificate', () => {
    const notPem = file('bad.cert', 'hello');
    expect(() => loadConfig({ ...node, TOLLWAY_LND_TLS_CERT_PATH: notPem })).toThrow(/TOLLWAY_LND_TLS_CERT_PATH/);
    const pem = file('ok.cert', '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n');
    expect(() => loadConfig({ ...node, TOLLWAY_LND_REST_URL: 'http://lnd:8080', TOLLWAY_LND_TLS_CERT_PATH: pem })).toThrow(
      /TOLLWAY_LND_REST_URL/,
    );
  });
});

describe('Lightning configuration for Core Lightning and LNbits', () => {
  const rune = 'tU-RLjMiDpY2U0o_hBL1hJd4lvQQt0iLEw42Z3mkt_g9MA==';
  const cln = { TOLLWAY_LIGHTNING_NODE: 'cln', TOLLWAY_CLN_REST_URL: 'https://127.0.0.1:3010/', TOLLWAY_CLN_RUNE: rune };
  const lnbits = {
    TOLLWAY_LIGHTNING_NODE: 'lnbits',
    TOLLWAY_LNBITS_URL: 'https://lnbits.example.com',
    TOLLWAY_LNBITS_ADMIN_KEY: 'a'.repeat(32),
    TOLLWAY_LNBITS_INVOICE_KEY: 'b'.repeat(32),
  };
  const serialised = (env: Record<string, string>) =>
    JSON.stringify(loadConfig(env), (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));

  it('turns the rail on with the kind named, its address and its credentials, kept out of anything serialised', () => {
    const c = loadConfig(cln).rails.lightning!;
    expect(c).toMatchObject({ node: 'cln', restUrl: 'https://127.0.0.1:3010', feeLimitMsat: 10_000n });
    expect(c.rune).toBe(rune);
    expect(serialised(cln)).not.toContain(rune);
    const l = loadConfig(lnbits).rails.lightning!;
    expect(l).toMatchObject({ node: 'lnbits', restUrl: 'https://lnbits.example.com' });
    expect([l.lnbitsAdminKey, l.lnbitsInvoiceKey]).toEqual(['a'.repeat(32), 'b'.repeat(32)]);
    expect(serialised(lnbits)).not.toMatch(/aaaaaaaa|bbbbbbbb/);
    // Without an invoice key, the admin key does its look-ups too.
    expect(loadConfig({ ...lnbits, TOLLWAY_LNBITS_INVOICE_KEY: undefined as unknown as string }).rails.lightning!.lnbitsInvoiceKey).toBe(
      'a'.repeat(32),
    );
  });

  it('is off when the kind is named but none of its variables is set', () => {
    expect(loadConfig({ TOLLWAY_LIGHTNING_NODE: 'cln' }).rails.lightning).toBeUndefined();
    expect(loadConfig({ TOLLWAY_LIGHTNING_NODE: 'lnbits' }).rails.lightning).toBeUndefined();
  });

  it.each([
    [{ TOLLWAY_LIGHTNING_NODE: 'cln', TOLLWAY_CLN_REST_URL: 'https://cln:3010' }, 'TOLLWAY_CLN_RUNE'],
    [{ TOLLWAY_LIGHTNING_NODE: 'cln', TOLLWAY_CLN_RUNE: rune }, 'TOLLWAY_CLN_REST_URL'],
    [{ ...cln, TOLLWAY_CLN_RUNE: 'not a rune!' }, 'TOLLWAY_CLN_RUNE'],
    [{ ...cln, TOLLWAY_CLN_CA_CERT_PATH: '/nonexistent/ca.pem' }, 'TOLLWAY_CLN_CA_CERT_PATH'],
    [{ TOLLWAY_LIGHTNING_NODE: 'lnbits', TOLLWAY_LNBITS_URL: 'https://lnbits' }, 'TOLLWAY_LNBITS_ADMIN_KEY'],
    [{ TOLLWAY_LIGHTNING_NODE: 'lnbits', TOLLWAY_LNBITS_ADMIN_KEY: 'a'.repeat(32) }, 'TOLLWAY_LNBITS_URL'],
    // Another kind's variables: a mistake worth stopping for, not something to ignore.
    [{ ...cln, TOLLWAY_LND_MACAROON: 'abcd' }, 'TOLLWAY_LND_MACAROON'],
    [{ TOLLWAY_CLN_REST_URL: 'https://cln:3010', TOLLWAY_CLN_RUNE: rune }, 'TOLLWAY_CLN_REST_URL'],
    [{ ...lnbits, TOLLWAY_CLN_RUNE: rune }, 'TOLLWAY_CLN_RUNE'],
    [{ TOLLWAY_LIGHTNING_NODE: 'eclair' }, 'TOLLWAY_LIGHTNING_NODE'],
  ])('stops on %j and names %s', (env, name) => {
    expect(() => loadConfig(env)).toThrow(ConfigError);
    expect(() => loadConfig(env)).toThrow(new RegExp(name));
    expect(() => loadConfig(env)).not.toThrow(new RegExp(rune.slice(0, 12)));
  });
});

describe('SOVR configuration', () => {
  const key = `0x${'11'.repeat(32)}`;
  const chain = {
    TOLLWAY_SOVR_RPC_URL: 'http://127.0.0.1:8545',
    TOLLWAY_SOVR_CHAIN_ID: '31337',
    TOLLWAY_SOVR_TOKEN: `0x${'ab'.repeat(20)}`,
    TOLLWAY_SOVR_PRIVATE_KEY: key,
  };

  it('is off unless configured, on with the chain, the token and a key, with documented defaults', () => {
    expect(loadConfig({}).rails.sovr).toBeUndefined();
    const c = loadConfig(chain).rails.sovr!;
    expect(c).toMatchObject({
      rpcUrl: 'http://127.0.0.1:8545',
      chainId: 31337,
      confirmations: 1,
      pollIntervalMs: 2000,
      minValiditySeconds: 60,
      maxValiditySeconds: 3600,
      settleGraceSeconds: 3600,
    });
    expect(c.signer).toEqual({ privateKey: key });
  });

  it('keeps the service key out of anything that serialises the configuration', () => {
    const c = loadConfig(chain);
    expect(JSON.stringify(c, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))).not.toContain('1111111111');
    expect(Object.keys(c.rails.sovr!)).not.toContain('signer');
  });

  it('takes SOVR_CONFIRMATIONS, and TOLLWAY_SOVR_CONFIRMATIONS over it', () => {
    expect(loadConfig({ ...chain, SOVR_CONFIRMATIONS: '3' }).rails.sovr!.confirmations).toBe(3);
    expect(loadConfig({ ...chain, SOVR_CONFIRMATIONS: '3', TOLLWAY_SOVR_CONFIRMATIONS: '5' }).rails.sovr!.confirmations).toBe(5);
  });

  it.each([
    [{ TOLLWAY_SOVR_RPC_URL: 'http://127.0.0.1:8545' }, 'TOLLWAY_SOVR_CHAIN_ID'],
    [{ ...chain, TOLLWAY_SOVR_TOKEN: undefined }, 'TOLLWAY_SOVR_TOKEN'],
    [{ ...chain, TOLLWAY_SOVR_PRIVATE_KEY: undefined }, 'TOLLWAY_SOVR_PRIVATE_KEY'],
    [{ ...chain, TOLLWAY_SOVR_PRIVATE_KEY: '0x1234' }, 'TOLLWAY_SOVR_PRIVATE_KEY'],
    [{ ...chain, TOLLWAY_SOVR_TOKEN: '0xnothex' }, 'TOLLWAY_SOVR_TOKEN'],
    [{ ...chain, TOLLWAY_SOVR_KEYSTORE_PATH: '/x' }, 'TOLLWAY_SOVR_KEYSTORE_PATH'],
    [{ ...chain, TOLLWAY_SOVR_PRIVATE_KEY: undefined, TOLLWAY_SOVR_KEYSTORE_PATH: '/nonexistent/key.json' }, 'TOLLWAY_SOVR_KEYSTORE_PATH'],
    [{ ...chain, TOLLWAY_SOVR_EXPLORER_TX_URL: 'https://explorer.example/tx/' }, 'TOLLWAY_SOVR_EXPLORER_TX_URL'],
    [{ ...chain, TOLLWAY_SOVR_CONFIRMATIONS: '0' }, 'TOLLWAY_SOVR_CONFIRMATIONS'],
    [{ ...chain, TOLLWAY_SOVR_MIN_VALIDITY: '4000' }, 'TOLLWAY_SOVR_MIN_VALIDITY'],
  ])('stops on %j and names %s', (env, name) => {
    expect(() => loadConfig(env)).toThrow(ConfigError);
    expect(() => loadConfig(env)).toThrow(new RegExp(name));
  });
});

describe('x402 facilitator access', () => {
  it('is open by default, and takes merchants or off', () => {
    expect(loadConfig({}).x402Facilitator).toBe('open');
    expect(loadConfig({ TOLLWAY_X402_FACILITATOR: 'merchants' }).x402Facilitator).toBe('merchants');
    expect(loadConfig({ TOLLWAY_X402_FACILITATOR: 'off' }).x402Facilitator).toBe('off');
    expect(() => loadConfig({ TOLLWAY_X402_FACILITATOR: 'closed' })).toThrow(/TOLLWAY_X402_FACILITATOR/);
  });
});
