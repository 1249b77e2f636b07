/**
 * The accounts behind the local wallet addresses, and the client keys the auth server trusts. Balances
 * are bigint in the asset's smallest unit; only outgoing payments (./payments.ts) change them.
 */
import type { ClientJwk, WalletOptions } from './types.js';

export interface Wallet {
  name: string;
  url: string;
  publicName?: string;
  assetCode: string;
  assetScale: number;
  balance: bigint;
  keys: Map<string, ClientJwk>;
}

/** Paths of the resource and auth servers, which share the origin with the wallet addresses. */
const RESERVED = new Set(['auth', 'incoming-payments', 'outgoing-payments', 'quotes', 'outgoing-payment-grant', '.well-known']);
const NAME = /^[a-z0-9][a-z0-9._-]{0,62}$/;

export class WalletDirectory {
  readonly #wallets = new Map<string, Wallet>();
  /** Keys of client wallet addresses that live elsewhere, by wallet address URL and kid. */
  readonly #outsideKeys = new Map<string, Map<string, ClientJwk>>();

  constructor(private readonly origin: string) {}

  create(name: string, opts: WalletOptions): Wallet {
    if (!NAME.test(name) || RESERVED.has(name)) throw new Error(`not a usable wallet name: ${JSON.stringify(name)}`);
    if (!Number.isInteger(opts.assetScale) || opts.assetScale < 0 || opts.assetScale > 255) throw new Error('assetScale must be 0–255');
    if (!/^[A-Z0-9]{1,12}$/i.test(opts.assetCode)) throw new Error('assetCode must be a short code such as USD');
    if (typeof opts.balance !== 'bigint' || opts.balance < 0n) throw new Error('balance must be a non-negative bigint');
    const url = `${this.origin}/${name}`;
    if (this.#wallets.has(url)) throw new Error(`wallet ${name} exists`);
    const wallet: Wallet = {
      name,
      url,
      publicName: opts.publicName,
      assetCode: opts.assetCode,
      assetScale: opts.assetScale,
      balance: opts.balance,
      keys: new Map(),
    };
    this.#wallets.set(url, wallet);
    return wallet;
  }

  get(url: string): Wallet | undefined {
    return this.#wallets.get(stripSlash(url));
  }

  byName(name: string): Wallet | undefined {
    return this.#wallets.get(`${this.origin}/${name}`);
  }

  require(url: string): Wallet {
    const wallet = this.get(url);
    if (!wallet) throw new Error(`no wallet ${url} here`);
    return wallet;
  }

  addClientKey(walletAddressUrl: string, jwk: ClientJwk): void {
    if (jwk.kty !== 'OKP' || jwk.crv !== 'Ed25519' || jwk.alg !== 'EdDSA' || !jwk.kid || !jwk.x)
      throw new Error('an Ed25519 JWK is needed');
    const key: ClientJwk = { kid: jwk.kid, alg: 'EdDSA', kty: 'OKP', crv: 'Ed25519', x: jwk.x, ...(jwk.use ? { use: jwk.use } : {}) };
    const local = this.get(walletAddressUrl);
    if (local) {
      local.keys.set(key.kid, key);
      return;
    }
    const url = stripSlash(walletAddressUrl);
    const keys = this.#outsideKeys.get(url) ?? new Map<string, ClientJwk>();
    keys.set(key.kid, key);
    this.#outsideKeys.set(url, keys);
  }

  /** A client's key known without HTTP: a wallet here, or one registered with addClientKey. */
  knownKey(walletAddressUrl: string, kid: string): ClientJwk | undefined | 'unknown-wallet' {
    const local = this.get(walletAddressUrl);
    if (local) return local.keys.get(kid);
    const outside = this.#outsideKeys.get(stripSlash(walletAddressUrl));
    return outside ? outside.get(kid) : 'unknown-wallet';
  }
}

function stripSlash(url: string): string {
  return url.endsWith('/') ? url.slice(0, -1) : url;
}
