/**
 * What the SOVR test files share: a real local chain with SOVR deployed for the whole file, hubs
 * with the SOVR rail on it, funded people and payers, signed EIP-3009 authorizations, relayed
 * transactions, payments and ledger accounts read back, and the live feed.
 */
import { Wallet, type TransactionResponse } from 'ethers';
import { io, type Socket } from 'socket.io-client';
import { afterAll, beforeAll } from 'vitest';
import { randomAuthorizationNonce, signTransferAuthorization, sovrDomain, type TransferAuthorization } from '../../contracts/eip712.js';
import type { PaymentStatusUpdate } from '../../shared/api.js';
import { createLedger } from '../../server/ledger/ledger.js';
import {
  createSovrRail,
  type ExactPayload,
  type ExactRequirement,
  type ServiceSigner,
  type SovrRail,
  type SovrRailOptions,
} from '../../server/rails/sovr/index.js';
import { deploySovr, startChain, type SovrDeployment, type TestChain } from './chain.js';
import { signIn, startTestHub, type Session, type TestHub } from './hub.js';
import { freshStore, type Engine, type TestStore } from './stores.js';

export const SOVR = 10n ** 18n;
export const TRANSFER_BYTES = 'transferWithAuthorization(address,address,uint256,uint256,uint256,bytes32,bytes)';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `probe` until it answers something truthy; throws naming `what` after `ms`. */
export async function waitFor<T>(probe: () => Promise<T | undefined | false | null>, what: string, ms = 20_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

/** A TransferWithAuthorization as the wire carries it: decimal strings and the signature beside. */
export type WireAuthorization = {
  from: string;
  to: string;
  value: string;
  validAfter: string;
  validBefore: string;
  nonce: string;
  signature: string;
};

/** What PAYMENT-SIGNATURE's payload carries, and a merchant's facilitator receives. */
export const payloadOf = (a: WireAuthorization): ExactPayload => {
  const { signature, ...authorization } = a;
  return { signature, authorization };
};

/** The TOLLWAY_SOVR_* an operator sets to turn the rail on, with `service` as the hub's wallet. */
export function sovrHubEnv(chain: TestChain, sovr: SovrDeployment, service: Wallet): Record<string, string> {
  return {
    TOLLWAY_SOVR_RPC_URL: chain.rpcUrl,
    TOLLWAY_SOVR_CHAIN_ID: String(chain.chainId),
    TOLLWAY_SOVR_TOKEN: sovr.address,
    TOLLWAY_SOVR_PRIVATE_KEY: service.privateKey,
    TOLLWAY_SOVR_POLL_INTERVAL: '50',
  };
}

export async function getPayment<P>(url: string, s: Session, id: string): Promise<P> {
  return (await (await fetch(`${url}/payments/${id}`, { headers: { authorization: `Bearer ${s.accessToken}` } })).json()) as P;
}

export const untilPaymentStatus = <P extends { status: string }>(url: string, s: Session, id: string, status: string) =>
  waitFor(async () => {
    const p = await getPayment<P>(url, s, id);
    return p.status === status ? p : undefined;
  }, `payment ${id} to be ${status}`);

const ledgerReader = createLedger({ clock: { now: () => Date.now() } });

export async function ledgerAccount(db: TestStore['db'], id: string) {
  const [a] = await ledgerReader.lookupAccounts(db, [id]);
  return a;
}

/** The person's live feed: every paymentStatusUpdate, deduplicated by seq. */
export async function liveFeed(url: string, s: Session): Promise<{ updates: PaymentStatusUpdate[]; socket: Socket }> {
  const socket = io(url, { auth: { token: s.accessToken }, transports: ['websocket'], reconnection: false, forceNew: true });
  const updates: PaymentStatusUpdate[] = [];
  const seen = new Set<number>();
  socket.on('paymentStatusUpdate', (u: PaymentStatusUpdate) => {
    if (seen.has(u.seq)) return;
    seen.add(u.seq);
    updates.push(u);
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('connect_error', reject);
  });
  return { updates, socket };
}

export interface SovrHub {
  t: TestHub;
  rail: SovrRail;
  service: Wallet;
  treasury: string;
}

export interface SovrHubOptions {
  store?: TestStore;
  keepStore?: boolean;
  /** The hub's service wallet; the next unused dev account when unset. */
  service?: Wallet;
  /** How the rail loads the key; `service`'s private key when unset. */
  signer?: ServiceSigner;
  treasury?: string;
  /** Over the rail's test options (this chain, confirmations 1, a 25 ms poll). */
  options?: Partial<SovrRailOptions>;
  /** Over the test hub's environment (an event broker, say). */
  env?: Record<string, string>;
}

export interface SovrTestbed {
  /** The chain and the contract, once the file's beforeAll has run. */
  readonly chain: TestChain;
  readonly sovr: SovrDeployment;
  /** A hub with the SOVR rail on this chain. */
  startSovrHub(engine: Engine, opts?: SovrHubOptions): Promise<SovrHub>;
  /**
   * A funded dev account (1…19) no other hub of this file uses, so that two hubs alive at once
   * never share nonces; a restarted hub reuses its predecessor's on purpose.
   */
  nextServiceWallet(): Wallet;
  /** A person with a fresh wallet, signed in, holding `tokens` SOVR on chain (minted; needs automine, one at a time). */
  person(url: string, tokens: bigint): Promise<Session>;
  /** A payer with `tokens` SOVR on chain and no ether: x402 payers never pay gas (minted; needs automine). */
  payer(tokens: bigint): Promise<Wallet>;
  /**
   * A TransferWithAuthorization from `from`, signed by `signer` (`from` by default), valid from
   * ten minutes ago until `validForSeconds` from now unless `over` says otherwise.
   */
  signAuthorization(
    from: Wallet,
    to: string,
    value: bigint,
    over?: Partial<TransferAuthorization> & { signer?: Wallet },
    validForSeconds?: bigint,
  ): Promise<WireAuthorization>;
  /** What the extension sends for a person: valid for half an hour. */
  authorize(s: Session, to: string, value: bigint, over?: Partial<TransferAuthorization> & { signer?: Wallet }): Promise<WireAuthorization>;
  /** The `exact` entry a plain x402 merchant lists for SOVR on this chain. */
  requirementFor(payTo: string, amount: bigint, over?: Partial<ExactRequirement>): ExactRequirement;
  /** Sends `fn` from a funded dev wallet with a tip that puts it ahead of the hub's transactions in a block. */
  relay(fn: string, args: unknown[], from?: Wallet): Promise<TransactionResponse>;
  /** Submits a signed authorization as someone else would (a relayer, or the merchant's own facilitator). */
  relayAuthorization(a: WireAuthorization): Promise<TransactionResponse>;
  /** Every transaction `from` sent in blocks after `sinceBlock`. */
  transactionsFrom(from: string, sinceBlock: number): Promise<TransactionResponse[]>;
}

/**
 * Starts a chain with SOVR deployed in the calling file's beforeAll and stops it in its afterAll.
 * Call at the top of a test file; the helpers may be destructured at once and used in tests.
 */
export function useSovrChain(): SovrTestbed {
  let chain: TestChain | undefined;
  let sovr: SovrDeployment | undefined;
  let nextDevAccount = 1;
  beforeAll(async () => {
    chain = await startChain();
    sovr = await deploySovr(chain);
  }, 60_000);
  afterAll(async () => chain?.stop());

  const started = () => {
    if (!chain || !sovr) throw new Error('the SOVR chain is not started yet (use it inside beforeAll or a test)');
    return { chain, sovr };
  };

  const bed: SovrTestbed = {
    get chain() {
      return started().chain;
    },
    get sovr() {
      return started().sovr;
    },
    nextServiceWallet: () => started().chain.accounts[nextDevAccount++]!,

    async startSovrHub(engine, opts = {}) {
      const { chain, sovr } = started();
      const service = opts.service ?? bed.nextServiceWallet();
      const treasury = opts.treasury ?? Wallet.createRandom().address;
      const store = opts.store ?? (await freshStore(engine));
      let rail: SovrRail | undefined;
      const t = await startTestHub(engine, {
        store,
        keepStore: opts.keepStore,
        ...(opts.env ? { env: opts.env } : {}),
        rails: (parts) => ({
          sovr: (rail = createSovrRail({
            ...parts,
            db: store.db,
            signer: opts.signer ?? { privateKey: service.privateKey },
            options: {
              rpcUrl: chain.rpcUrl,
              chainId: chain.chainId,
              token: sovr.address,
              treasury,
              confirmations: 1,
              pollIntervalMs: 25,
              ...opts.options,
            },
          })),
        }),
      });
      return { t, rail: rail!, service, treasury };
    },

    async person(url, tokens) {
      const s = await signIn(url, Wallet.createRandom() as unknown as Wallet);
      if (tokens > 0n) await started().sovr.mint(s.wallet.address, tokens);
      return s;
    },

    async payer(tokens) {
      const w = Wallet.createRandom() as unknown as Wallet;
      if (tokens > 0n) await started().sovr.mint(w.address, tokens);
      return w;
    },

    async signAuthorization(from, to, value, over = {}, validForSeconds = 1800n) {
      const { chain, sovr } = started();
      const now = BigInt(Math.floor(Date.now() / 1000));
      const { signer, ...fields } = over;
      const a: TransferAuthorization = {
        from: from.address,
        to,
        value,
        validAfter: now - 600n,
        validBefore: now + validForSeconds,
        nonce: randomAuthorizationNonce(),
        ...fields,
      };
      const signature = await signTransferAuthorization(signer ?? from, sovrDomain(chain.chainId, sovr.address), a);
      return {
        from: a.from,
        to: a.to,
        value: a.value.toString(),
        validAfter: a.validAfter.toString(),
        validBefore: a.validBefore.toString(),
        nonce: a.nonce,
        signature,
      };
    },

    authorize: (s, to, value, over = {}) => bed.signAuthorization(s.wallet, to, value, over),

    requirementFor(payTo, amount, over = {}) {
      const { chain, sovr } = started();
      return {
        scheme: 'exact',
        network: `eip155:${chain.chainId}`,
        amount: amount.toString(),
        asset: sovr.address,
        payTo,
        maxTimeoutSeconds: 60,
        extra: { name: 'SOVR', version: '1' },
        ...over,
      };
    },

    relay(fn, args, from) {
      const { chain, sovr } = started();
      const token = sovr.contract.connect(from ?? chain.accounts[19]!);
      // A fixed gas limit: an estimate would run against the pending block, where the hub's
      // transaction may already have spent what this one moves.
      return token.getFunction(fn)(...args, {
        gasLimit: 200_000n,
        maxPriorityFeePerGas: 20_000_000_000n,
        maxFeePerGas: 50_000_000_000n,
      }) as Promise<TransactionResponse>;
    },

    relayAuthorization: (a) =>
      bed.relay(TRANSFER_BYTES, [a.from, a.to, BigInt(a.value), BigInt(a.validAfter), BigInt(a.validBefore), a.nonce, a.signature]),

    async transactionsFrom(from, sinceBlock) {
      const { chain } = started();
      const latest = await chain.provider.getBlockNumber();
      const out: TransactionResponse[] = [];
      for (let n = sinceBlock + 1; n <= latest; n++) {
        const block = await chain.provider.getBlock(n, true);
        for (const tx of block!.prefetchedTransactions) if (tx.from === from) out.push(tx);
      }
      return out;
    },
  };
  return bed;
}
