/**
 * The merchant kit installs alone: the workspace packages are packed as they would be published
 * (`npm pack`, whose prepack compiles them to dist/), a fresh project outside the repository installs
 * only `@tollway/merchant` from those tarballs (third-party packages from the npm cache), is compiled
 * with its own tsc against the packed type declarations, and is started as plain `node`. Nothing of
 * the repository is on its module path, so a relative import out of merchant/ or a missing dependency
 * fails here. The paid route is then asked for without and with payment against a real hub.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodePaymentSignature, parsePaymentRequired, type PaymentOption } from '../../shared/challenge.js';
import { createMerchant, fund, pay, signIn, startTestHub, type Session, type TestHub } from '../helpers/hub.js';

const run = promisify(execFile);
const root = join(import.meta.dirname, '../..');
const requireFromRoot = createRequire(join(root, 'package.json'));
/** The versions the repository itself installed, so the npm cache already holds them. */
const installed = (name: string) => (requireFromRoot(`${name}/package.json`) as { version: string }).version;

/** The hub's heavy dependencies: a merchant's install must bring none of them. */
const HUB_ONLY = ['better-sqlite3', 'pg', 'redis', 'socket.io', 'preact', '@socket.io/redis-streams-adapter'];
const SECRET = 'THE-PAID-CONTENT';

// npm run from vitest inherits npm_config_* of the outer `npm`/`npx` (workspace, prefix…): not ours.
const cleanEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.toLowerCase().startsWith('npm_')));

let dir: string;
let th: TestHub;
let session: Session;
let shopProc: ChildProcess | undefined;
let shop: string;
let installedPackages: string[];

const SERVER_TS = `import type { AddressInfo } from 'node:net';
import express from 'express';
import { paywall } from '@tollway/merchant';

const hub = process.env.HUB_URL ?? '';
const merchantId = process.env.MERCHANT_ID ?? '';
const app = express();
app.get('/article/:id', paywall({ hub, merchantId, asset: 'SOVR', price: '1500' }), (req, res) => {
  res.send('${SECRET} ' + req.params.id);
});
const server = app.listen(0, '127.0.0.1', () => {
  console.log('listening ' + (server.address() as AddressInfo).port);
});
`;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tollway-merchant-standalone-'));
  const packs = join(dir, 'packs');
  const app = join(dir, 'shop');
  mkdirSync(packs);
  mkdirSync(join(app, 'src'), { recursive: true });

  // Packed in dependency order; each prepack builds its dist/ (tsc -b follows the references).
  await run('npm', ['pack', '-w', '@tollway/shared', '-w', '@tollway/lightning', '-w', '@tollway/merchant', '--pack-destination', packs], {
    cwd: root,
    env: cleanEnv,
  });
  const tarball = (name: string) => `file:../packs/tollway-${name}-0.1.0.tgz`;
  writeFileSync(
    join(app, 'package.json'),
    JSON.stringify(
      {
        name: 'a-merchant',
        private: true,
        type: 'module',
        dependencies: { '@tollway/merchant': tarball('merchant'), express: `^${installed('express')}` },
        // The kit's own @tollway dependencies are not on the registry: they come from the same packs.
        overrides: { '@tollway/shared': tarball('shared'), '@tollway/lightning': tarball('lightning') },
        devDependencies: {
          typescript: installed('typescript'),
          '@types/express': installed('@types/express'),
          '@types/node': installed('@types/node'),
        },
      },
      null,
      2,
    ),
  );
  writeFileSync(
    join(app, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        target: 'ES2022',
        module: 'NodeNext',
        moduleResolution: 'NodeNext',
        strict: true,
        // Library declarations are checked by their authors; ours name DOM's CryptoKey (via jose).
        skipLibCheck: true,
        outDir: 'dist',
        rootDir: 'src',
        types: ['node'],
      },
      include: ['src'],
    }),
  );
  writeFileSync(join(app, 'src/server.ts'), SERVER_TS);
  await run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--ignore-scripts'], { cwd: app, env: cleanEnv });
  const lock = JSON.parse(readFileSync(join(app, 'package-lock.json'), 'utf8')) as { packages: Record<string, unknown> };
  installedPackages = Object.keys(lock.packages)
    .filter((p) => p.startsWith('node_modules/'))
    .map((p) => p.slice(p.lastIndexOf('node_modules/') + 'node_modules/'.length));
  await run(join(app, 'node_modules/.bin/tsc'), ['-p', 'tsconfig.json'], { cwd: app, env: cleanEnv });

  th = await startTestHub('sqlite');
  const merchant = await createMerchant(th.url, 'Standalone shop');
  session = await signIn(th.url);
  await fund(th.url, session, '100000000');

  const proc = spawn(process.execPath, ['dist/server.js'], {
    cwd: app,
    env: { ...cleanEnv, HUB_URL: th.url, MERCHANT_ID: merchant.merchant.id },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  shopProc = proc;
  shop = await new Promise<string>((resolve, reject) => {
    let out = '';
    let err = '';
    proc.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /listening (\d+)/.exec(out);
      if (m) resolve(`http://127.0.0.1:${m[1]}`);
    });
    proc.stderr?.on('data', (d: Buffer) => {
      err += d.toString();
    });
    proc.on('exit', (code) => reject(new Error(`the merchant project exited (${code}): ${err}`)));
  });
}, 150_000);

afterAll(async () => {
  shopProc?.kill();
  await th?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function challenge(path: string): Promise<{ res: Response; entry: PaymentOption; resourceUrl: string }> {
  const res = await fetch(`${shop}${path}`, { headers: { accept: 'application/json' } });
  const header = res.headers.get('payment-required');
  const parsed = parsePaymentRequired(header ?? '');
  if (!parsed.ok) throw new Error(`no valid challenge: ${parsed.error.message}`);
  const entry = parsed.value.accepts.find((a) => a.scheme === 'tollway');
  if (!entry) throw new Error('no tollway entry in the challenge');
  return { res, entry, resourceUrl: parsed.value.resource?.url ?? '' };
}

describe('a merchant project that installs only @tollway/merchant', () => {
  it('gets the kit and its protocol packages, and none of the hub’s dependencies', () => {
    expect(installedPackages).toContain('@tollway/merchant');
    expect(installedPackages).toContain('@tollway/shared');
    expect(installedPackages).toContain('@tollway/lightning');
    for (const name of HUB_ONLY) {
      expect(installedPackages).not.toContain(name);
      expect(existsSync(join(dir, 'shop/node_modules', name))).toBe(false);
    }
  });

  it('answers an unpaid request to its paid route with 402 and a valid challenge', async () => {
    const c = await challenge('/article/7');
    expect(c.res.status).toBe(402);
    expect(c.resourceUrl).toBe(`${shop}/article/7`);
    expect(c.entry.amount).toBe('1500');
    expect(c.entry.asset).toBe('SOVR');
    expect(await c.res.text()).not.toContain(SECRET);
  });

  it('serves the route once it is paid through the hub', async () => {
    const c = await challenge('/article/8');
    const paid = await pay(th.url, session, randomUUID(), {
      rail: 'internal',
      payTo: c.entry.payTo,
      amount: c.entry.amount,
      asset: c.entry.asset,
      requirement: c.entry,
      resource: { url: c.resourceUrl, method: 'GET' },
    });
    expect(paid.status).toBe(200);
    const payment = (await paid.json()) as { status: string; receipt: { token: string } };
    expect(payment.status).toBe('completed');
    const res = await fetch(`${shop}/article/8`, {
      headers: { 'payment-signature': encodePaymentSignature({ accepted: c.entry, payload: { receipt: payment.receipt.token } }) },
    });
    expect(res.status).toBe(200);
    expect(await res.text()).toBe(`${SECRET} 8`);
    expect(res.headers.get('payment-response')).toBeTruthy();
  });
});
