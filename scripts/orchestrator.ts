/**
 * `npm start`: the whole of Tollway on one machine. In this one process: the hub in dev mode
 * (SQLite under TOLLWAY_DATA_DIR unless DATABASE_URL), a demo merchant registered at it once and
 * reused on every later start (`<data dir>/demo-merchant.json`), and the demo shop pointed at the
 * hub; in a child process: the extension build (`npm run build` → dist/), whose failure is reported
 * and leaves the rest running. Also in this process, unless the environment names a Lightning node of
 * its own: a local Lightning network of stand-in nodes (devnet/local-lightning.ts) for the hub's
 * Lightning rail, the demo shop's Lightning article and an "outside wallet" with a dev page. And,
 * unless the environment names the hub's own Interledger client wallet address: the local
 * Interledger wallet (devnet/interledger/demo.ts) with a wallet for the person and one for the demo
 * shop, for the hub's `ilp` rail and the article's Interledger option.
 * Prints what to open. SIGINT/SIGTERM stop everything.
 *
 * Environment: every hub variable (PORT, HOST, TOLLWAY_PUBLIC_URL, TOLLWAY_DATA_DIR,
 * TOLLWAY_ADMIN_TOKEN, DATABASE_URL, …; TOLLWAY_DEV defaults to 1 and TOLLWAY_LOG_LEVEL to warn
 * here), DEMO_PORT (8403), DEMO_HOST (HOST), DEV_WALLET_PORT (8404: the outside wallet's page),
 * ILP_WALLET_PORT (8405: the local Interledger wallet), TOLLWAY_SKIP_EXTENSION_BUILD=1,
 * TOLLWAY_SKIP_CHAIN=1, TOLLWAY_SKIP_LIGHTNING=1, TOLLWAY_SKIP_INTERLEDGER=1.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEFAULT_CHAIN_PORT, startDevChain, type DevChain } from '../contracts/dev-chain.js';
import { ChainPortInUseError } from '../contracts/local-chain.js';
import { DEFAULT_DEV_WALLET_PORT, startLocalLightning, type LocalLightning } from '../devnet/local-lightning.js';
import { DEFAULT_INTERLEDGER_PORT, startDemoInterledger, type DemoInterledger } from '../devnet/interledger/demo.js';
import { createLndNode } from '../lightning/index.js';
import { startDemoShop, type RunningShop } from '../merchant/demo/shop.js';
import { startHub, type Hub } from '../server/app.js';
import { ConfigError, loadConfig, type Config } from '../server/config.js';
import { createLogger } from '../server/logger.js';

export const DEMO_MERCHANT_FILE = 'demo-merchant.json';
/** Hardhat dev accounts (public keys: local use only): 1 pays the hub's gas, 2–4 are demo wallets. */
const SERVICE_ACCOUNT = 1;
const DEMO_ACCOUNTS = [2, 3, 4];
/** Where plain x402 payments to the demo shop's API go on chain. */
const SHOP_PAYOUT_ACCOUNT = 5;
const DEMO_WALLET_SOVR = 1000n * 10n ** 18n;
/**
 * The local Interledger wallets keep SOVR, the article's asset (the hub keeps no fiat), at scale 9:
 * the article's 0.002 SOVR is a whole 2 000 000 units there. The person starts with 100 SOVR.
 */
const ILP_ASSET = { assetCode: 'SOVR', assetScale: 9 } as const;
const ILP_PERSON_BALANCE = 100n * 10n ** 9n;
export const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));

export interface DemoMerchant {
  merchantId: string;
  apiKey: string;
  webhookSecret: string;
  /** The Interledger wallet address it was registered with, if any. */
  walletAddress?: string;
}

type Print = (line: string) => void;

const truthy = (v: string | undefined): boolean => !!v && !['0', 'false', 'no', ''].includes(v.toLowerCase());

/**
 * The demo merchant: the one kept in the data directory if the hub still knows its key, else a new
 * one registered with the admin token (and kept for the next start). With `walletAddress`, a kept
 * merchant registered with another one (or none) is replaced: the hub takes a merchant's wallet
 * address only at registration, and the local Interledger wallet's address moves with its port.
 */
export async function seedDemoMerchant(opts: {
  hubUrl: string;
  adminToken: string;
  dataDir: string;
  walletAddress?: string;
}): Promise<DemoMerchant & { reused: boolean }> {
  const file = join(opts.dataDir, DEMO_MERCHANT_FILE);
  let kept: DemoMerchant | undefined;
  try {
    const parsed = JSON.parse(readFileSync(file, 'utf8')) as Partial<DemoMerchant>;
    if (typeof parsed.merchantId === 'string' && typeof parsed.apiKey === 'string' && typeof parsed.webhookSecret === 'string') {
      kept = {
        merchantId: parsed.merchantId,
        apiKey: parsed.apiKey,
        webhookSecret: parsed.webhookSecret,
        ...(typeof parsed.walletAddress === 'string' ? { walletAddress: parsed.walletAddress } : {}),
      };
    }
  } catch {
    // none yet, or unreadable: register one
  }
  if (kept && opts.walletAddress !== undefined && kept.walletAddress !== opts.walletAddress) kept = undefined;
  if (kept) {
    const res = await fetch(`${opts.hubUrl}/merchants/${encodeURIComponent(kept.merchantId)}/payments?limit=1`, {
      headers: { authorization: `Bearer ${kept.apiKey}` },
    });
    await res.arrayBuffer();
    if (res.ok) return { ...kept, reused: true };
    if (res.status !== 401 && res.status !== 403 && res.status !== 404)
      throw new Error(`the hub did not answer about the demo merchant: HTTP ${res.status}`);
    // A kept merchant the hub does not know (a new database): register another.
  }
  const res = await fetch(`${opts.hubUrl}/merchants`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${opts.adminToken}` },
    body: JSON.stringify({ name: 'Tollway demo shop', ...(opts.walletAddress ? { walletAddress: opts.walletAddress } : {}) }),
  });
  if (res.status !== 201) throw new Error(`registering the demo merchant failed: HTTP ${res.status} ${await res.text()}`);
  const created = (await res.json()) as { merchant: { id: string }; apiKey: string; webhookSecret: string };
  const merchant: DemoMerchant = {
    merchantId: created.merchant.id,
    apiKey: created.apiKey,
    webhookSecret: created.webhookSecret,
    ...(opts.walletAddress ? { walletAddress: opts.walletAddress } : {}),
  };
  writeFileSync(file, `${JSON.stringify(merchant, null, 2)}\n`, { mode: 0o600 });
  return { ...merchant, reused: false };
}

/** Points the demo merchant's webhooks at the shop (every start: the shop's port may differ). */
async function setWebhook(hubUrl: string, m: DemoMerchant, url: string): Promise<string | undefined> {
  const res = await fetch(`${hubUrl}/merchants/${encodeURIComponent(m.merchantId)}/webhook`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${m.apiKey}` },
    body: JSON.stringify({ url }),
  });
  const text = await res.text();
  if (res.ok) return undefined;
  try {
    return (JSON.parse(text) as { detail?: string }).detail ?? `HTTP ${res.status}`;
  } catch {
    return `HTTP ${res.status}`;
  }
}

interface Build {
  proc: ChildProcess;
  done: Promise<number | null>;
}

/** `npm run build` in its own process group, output to a log file, so Ctrl-C can stop all of it. */
function buildExtension(logFile: string): Build {
  const log = createWriteStream(logFile);
  // Under `npm start`, npm_execpath is the npm that started us (under npx it is npx-cli.js: not that).
  const npmCli = process.env.npm_execpath;
  const [cmd, args] = npmCli && /npm-cli\.c?js$/.test(npmCli) ? [process.execPath, [npmCli, 'run', 'build']] : ['npm', ['run', 'build']];
  const proc = spawn(cmd, args, { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'], detached: process.platform !== 'win32' });
  proc.stdout!.pipe(log, { end: false });
  proc.stderr!.pipe(log, { end: false });
  const done = new Promise<number | null>((resolveDone) => {
    proc.once('error', () => resolveDone(-1));
    proc.once('close', (code) => {
      log.end();
      resolveDone(code);
    });
  });
  return { proc, done };
}

function stopBuild(b: Build | undefined): void {
  if (!b || b.proc.exitCode !== null || b.proc.signalCode !== null || !b.proc.pid) return;
  try {
    if (process.platform === 'win32') b.proc.kill('SIGTERM');
    else process.kill(-b.proc.pid, 'SIGTERM');
  } catch {
    // already gone
  }
}

/** `units` at `scale` as a decimal: 99998000000 at 9 is 99.998000000. */
const decimal = (units: bigint, scale: number): string => {
  const s = units.toString().padStart(scale + 1, '0');
  return scale ? `${s.slice(0, -scale)}.${s.slice(-scale)}` : s;
};

const tail = (file: string, lines: number): string => {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
};

export async function runStart(
  env: NodeJS.ProcessEnv = process.env,
  print: Print = (l) => process.stdout.write(`${l}\n`),
): Promise<number> {
  const hubEnv: Record<string, string | undefined> = { ...env };
  hubEnv.TOLLWAY_DEV ??= '1';
  hubEnv.TOLLWAY_LOG_LEVEL ??= 'warn';
  const adminGenerated = !hubEnv.TOLLWAY_ADMIN_TOKEN;
  if (adminGenerated) hubEnv.TOLLWAY_ADMIN_TOKEN = `tw_admin_${randomBytes(18).toString('base64url')}`;
  let config: Config;
  try {
    config = loadConfig(hubEnv);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`tollway: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
  const demoPort = Number(env.DEMO_PORT ?? 8403);
  if (!/^\d+$/.test(env.DEMO_PORT ?? '8403') || demoPort > 65535) {
    process.stderr.write('tollway: invalid configuration:\n  DEMO_PORT: must be a port number\n');
    return 2;
  }
  const adminToken = config.adminToken!;
  const dataDir = resolve(config.dataDir);
  mkdirSync(dataDir, { recursive: true });

  // Signals first: a Ctrl-C while starting still stops what has started.
  let stopping = false;
  let wake: () => void = () => {};
  const stopped = new Promise<void>((r) => (wake = r));
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) {
      process.stderr.write(`tollway: ${signal} again, exiting now\n`);
      process.exit(130);
    }
    stopping = true;
    wake();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  let hub: Hub | undefined;
  let shop: RunningShop | undefined;
  let build: Build | undefined;
  let dev: DevChain | undefined;
  let ln: LocalLightning | undefined;
  let ilp: DemoInterledger | undefined;
  const shutdown = async () => {
    stopBuild(build);
    await shop?.close();
    await hub?.close();
    await ln?.close();
    // It rejects when it sent (or tried to send) something the Open Payments specs forbid: say so.
    await ilp?.ilp.close().catch((err: Error) => process.stderr.write(`tollway: ${err.message}\n`));
    await dev?.chain.stop();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  };

  try {
    const skipBuild = truthy(env.TOLLWAY_SKIP_EXTENSION_BUILD);
    const buildLog = join(dataDir, 'extension-build.log');
    if (!skipBuild) build = buildExtension(buildLog);

    const skipChain = truthy(env.TOLLWAY_SKIP_CHAIN);
    if (!skipChain) {
      const chainPort = Number(env.CHAIN_PORT ?? DEFAULT_CHAIN_PORT);
      if (!/^\d+$/.test(env.CHAIN_PORT ?? String(DEFAULT_CHAIN_PORT)) || chainPort > 65535) {
        process.stderr.write('tollway: invalid configuration:\n  CHAIN_PORT: must be a port number\n');
        await shutdown();
        return 2;
      }
      try {
        dev = await startDevChain({ port: chainPort, host: config.host });
      } catch (err) {
        if (err instanceof ChainPortInUseError) {
          process.stderr.write(`tollway: port ${chainPort} is in use (set CHAIN_PORT to another one, or TOLLWAY_SKIP_CHAIN=1)\n`);
          await shutdown();
          return 1;
        }
        throw err;
      }
      if (stopping) return await shutdown().then(() => 0);
      // The hub pays on this chain unless the environment points it elsewhere: dev account 1 is
      // the service wallet (gas, and the treasury), and the demo wallets get SOVR to pay with.
      if (!hubEnv.TOLLWAY_SOVR_RPC_URL) {
        Object.assign(hubEnv, {
          TOLLWAY_SOVR_RPC_URL: dev.chain.rpcUrl,
          TOLLWAY_SOVR_CHAIN_ID: String(dev.chain.chainId),
          TOLLWAY_SOVR_TOKEN: dev.sovr.address,
          TOLLWAY_SOVR_PRIVATE_KEY: dev.chain.accounts[SERVICE_ACCOUNT]!.privateKey,
          TOLLWAY_SOVR_POLL_INTERVAL: hubEnv.TOLLWAY_SOVR_POLL_INTERVAL ?? '500',
        });
        config = loadConfig(hubEnv);
      }
      for (const i of DEMO_ACCOUNTS) await dev.sovr.mint(dev.chain.accounts[i]!.address, DEMO_WALLET_SOVR);
    }

    // A Lightning node named in the environment is the operator's own: then no local network.
    const ownNode = ['TOLLWAY_LND_REST_URL', 'TOLLWAY_CLN_REST_URL', 'TOLLWAY_LNBITS_URL'].some((k) => hubEnv[k]);
    if (!truthy(env.TOLLWAY_SKIP_LIGHTNING) && !ownNode) {
      const walletPort = Number(env.DEV_WALLET_PORT ?? DEFAULT_DEV_WALLET_PORT);
      if (!/^\d+$/.test(env.DEV_WALLET_PORT ?? String(DEFAULT_DEV_WALLET_PORT)) || walletPort > 65535) {
        process.stderr.write('tollway: invalid configuration:\n  DEV_WALLET_PORT: must be a port number\n');
        await shutdown();
        return 2;
      }
      try {
        ln = await startLocalLightning({ walletPort, host: config.host, dataDir });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE') {
          process.stderr.write(`tollway: port ${walletPort} is in use (set DEV_WALLET_PORT to another one, or TOLLWAY_SKIP_LIGHTNING=1)\n`);
          await shutdown();
          return 1;
        }
        throw err;
      }
      Object.assign(hubEnv, {
        TOLLWAY_LIGHTNING_NODE: 'lnd',
        TOLLWAY_LND_REST_URL: ln.hubNode.url,
        TOLLWAY_LND_MACAROON: ln.hubNode.macaroonHex,
      });
      config = loadConfig(hubEnv);
      if (stopping) return await shutdown().then(() => 0);
    }

    // The hub's own client wallet address in the environment means a real Interledger setup: then none here.
    const ownIlp = ['TOLLWAY_ILP_WALLET_ADDRESS', 'TOLLWAY_ILP_PRIVATE_KEY', 'TOLLWAY_ILP_KEY_ID'].some((k) => hubEnv[k]);
    if (!truthy(env.TOLLWAY_SKIP_INTERLEDGER) && !ownIlp) {
      const ilpPort = Number(env.ILP_WALLET_PORT ?? DEFAULT_INTERLEDGER_PORT);
      if (!/^\d+$/.test(env.ILP_WALLET_PORT ?? String(DEFAULT_INTERLEDGER_PORT)) || ilpPort > 65535) {
        process.stderr.write('tollway: invalid configuration:\n  ILP_WALLET_PORT: must be a port number\n');
        await shutdown();
        return 2;
      }
      try {
        ilp = await startDemoInterledger({ host: config.host, port: ilpPort, ...ILP_ASSET, personBalance: ILP_PERSON_BALANCE });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE') {
          process.stderr.write(`tollway: port ${ilpPort} is in use (set ILP_WALLET_PORT to another one, or TOLLWAY_SKIP_INTERLEDGER=1)\n`);
          await shutdown();
          return 1;
        }
        throw err;
      }
      Object.assign(hubEnv, ilp.hubEnv);
      config = loadConfig(hubEnv);
      if (stopping) return await shutdown().then(() => 0);
    }

    try {
      hub = await startHub({ config, logger: createLogger(config.logLevel) });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE') {
        process.stderr.write(`tollway: port ${config.port} is in use (set PORT to another one)\n`);
        await shutdown();
        return 1;
      }
      throw err;
    }
    if (stopping) return await shutdown().then(() => 0);

    const merchant = await seedDemoMerchant({
      hubUrl: hub.url,
      adminToken,
      dataDir,
      ...(ilp ? { walletAddress: ilp.shopWallet } : {}),
    });
    /** What the local Interledger wallets hold, as a newcomer reads it. */
    const ilpBalances = (d: DemoInterledger) =>
      `person ${decimal(d.ilp.balanceOf(d.personWallet), ILP_ASSET.assetScale)} ${ILP_ASSET.assetCode}, demo shop ${decimal(d.ilp.balanceOf(d.shopWallet), ILP_ASSET.assetScale)} ${ILP_ASSET.assetCode}`;
    const webhookEvents: string[] = [];
    try {
      shop = await startDemoShop({
        hub: config.publicUrl,
        merchantId: merchant.merchantId,
        apiKey: merchant.apiKey,
        webhookSecret: merchant.webhookSecret,
        port: demoPort,
        host: env.DEMO_HOST ?? config.host,
        // With the chain, plain x402 clients can pay the API in SOVR too (dev account 5 is paid, the hub settles).
        ...(dev && config.rails.sovr
          ? {
              exact: {
                payoutAddress: dev.chain.accounts[SHOP_PAYOUT_ACCOUNT]!.address,
                chainId: dev.chain.chainId,
                tokenAddress: dev.sovr.address,
                facilitator: `${config.publicUrl}/x402`,
              },
            }
          : {}),
        ...(ln
          ? {
              lightning: {
                node: createLndNode({ url: ln.shopNode.url, macaroonHex: ln.shopNode.macaroonHex }),
                // The publication slots' tokens and slots outlive a restart, beside the hub's data.
                slotsStore: join(dataDir, 'demo-slots.sqlite'),
              },
            }
          : {}),
        ...(ilp ? { interledger: { walletAddress: ilp.shopWallet } } : {}),
        onWebhook: (e) => {
          webhookEvents.push(e.id);
          print(`demo shop: webhook ${e.type} for ${e.data.transactionId ?? '?'} (signature verified)`);
          // Paid wallet to wallet: show that the money moved there, not in the hub.
          if (ilp && e.data.rail === 'ilp') print(`local Interledger wallet: ${ilpBalances(ilp)}`);
        },
      });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE') {
        process.stderr.write(`tollway: port ${demoPort} is in use (set DEMO_PORT to another one)\n`);
        await shutdown();
        return 1;
      }
      throw err;
    }
    const webhookProblem = await setWebhook(hub.url, merchant, `${shop.url}/webhooks/tollway`);

    const article = `${shop.url}/articles/toll-roads`;
    print(
      [
        '',
        '  Tollway is running (dev mode)',
        '',
        `  hub             ${hub.url}${config.publicUrl !== hub.url ? `   (public URL ${config.publicUrl})` : ''}`,
        `  storage         ${config.databaseUrl ? 'PostgreSQL (DATABASE_URL)' : `SQLite in ${dataDir}`}`,
        `  admin token     ${adminToken}${adminGenerated ? '   (generated; set TOLLWAY_ADMIN_TOKEN to choose one)' : '   (from TOLLWAY_ADMIN_TOKEN)'}`,
        `  demo shop       ${shop.url}`,
        `  demo merchant   ${merchant.merchantId} (${merchant.reused ? 'reused' : 'registered'}; key in ${join(dataDir, DEMO_MERCHANT_FILE)})`,
        ...(webhookProblem ? [`  webhooks        not set: ${webhookProblem}`] : [`  webhooks        ${shop.url}/webhooks/tollway`]),
        ...(dev
          ? [
              `  local chain     ${dev.chain.rpcUrl} (chain id ${dev.chain.chainId}), SOVR token at ${dev.sovr.address}`,
              `  SOVR rail       ${config.rails.sovr ? `on: service wallet ${dev.chain.accounts[SERVICE_ACCOUNT]!.address}` : 'off'}`,
              `  demo wallets    1000 SOVR each on chain; import one into the extension to pay from a wallet:`,
              ...DEMO_ACCOUNTS.map(
                (i) => `                  ${dev!.chain.accounts[i]!.address}  key ${dev!.chain.accounts[i]!.privateKey}`,
              ),
            ]
          : ['  local chain     not started (TOLLWAY_SKIP_CHAIN)']),
        ...(ln
          ? [
              `  Lightning       on: a local network of stand-in LND nodes (the hub's ${ln.hubNode.url}, the shop's ${ln.shopNode.url})`,
              `  outside wallet  ${ln.walletUrl}   (paste an invoice to pay it, or: npm run hub -- dev-pay <bolt11>)`,
              `  sats article    ${shop.url}/lightning/articles/toll-roads   (L402, Payment or your hub balance; or by QR code)`,
              `  slots           ${shop.url}/publication   (Join: a publication slot, paid ahead; API at ${shop.url}/slots/feerate, …)`,
            ]
          : [`  Lightning       ${config.rails.lightning ? 'on: the node named in the environment' : 'off'}`]),
        ...(ilp
          ? [
              `  Interledger     on: a local Open Payments wallet at ${ilp.ilp.origin} (${ILP_ASSET.assetCode} at scale ${ILP_ASSET.assetScale}; requests held to the specs)`,
              `  your ILP wallet ${ilp.personWallet}   (${decimal(ilp.ilp.balanceOf(ilp.personWallet), ILP_ASSET.assetScale)} ${ILP_ASSET.assetCode}); the shop's: ${ilp.shopWallet}`,
            ]
          : [`  Interledger     ${config.rails.ilp ? 'on: the client wallet address named in the environment' : 'off'}`]),
        '',
        `  Open ${article}`,
        `  (the API: ${shop.url}/api/quote?id=1, prices: ${shop.url}/.well-known/tollway.json)`,
        '',
        skipBuild
          ? '  Extension       not built (TOLLWAY_SKIP_EXTENSION_BUILD); `npm run build` builds it into dist/'
          : `  Extension       building into ${join(REPO_ROOT, 'dist')} … (log: ${buildLog})`,
        '  To load it: chrome://extensions → turn on Developer mode → Load unpacked → choose dist/.',
        '  Then create a wallet in it, sign in to this hub, take test SOVR from the faucet, and open the article.',
        ...(ln ? ['  With Lightning: Add funds in the popup and pay its invoice at the outside wallet, then open the sats article.'] : []),
        ...(ilp
          ? [
              `  With Interledger: signed in, link your wallet (PUT ${hub.url}/ilp/wallet {"walletAddress":"${ilp.personWallet}"}),`,
              '  pay the article on rail "ilp" (POST /payments with its tollway entry), open the consent URL the payment',
              '  answers (interact.redirect) and Approve there: the wallet sends you back to the hub, which completes it.',
            ]
          : []),
        '',
        '  Ctrl-C stops everything.',
        '',
      ].join('\n'),
    );

    if (build) {
      const b = build;
      void b.done.then((code) => {
        if (stopping) return;
        if (code === 0) print(`tollway: extension built into ${join(REPO_ROOT, 'dist')}: load it unpacked in chrome://extensions`);
        else {
          print(`tollway: the extension build FAILED (exit ${code}); the hub and the shop keep running. Last lines of ${buildLog}:`);
          print(tail(buildLog, 15).replace(/^/gm, '    '));
        }
      });
    }

    await stopped;
    print('tollway: stopping…');
    await shutdown();
    print('tollway: stopped');
    return 0;
  } catch (err) {
    await shutdown().catch(() => {});
    throw err;
  }
}
