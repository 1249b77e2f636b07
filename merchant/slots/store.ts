/**
 * Where slots() keeps its tokens and slots: the merchant's own database, never the hub's. Two
 * implementations speak plain SQL, SQLite (./sqlite-store.ts, the default: one file) and PostgreSQL
 * (./postgres-store.ts, for several processes); each creates its two tables on first use.
 *
 * The rules that money depends on are the store's, inside one transaction: a token is confirmed
 * once (the first amount recorded stands), and spent once (20 requests spending it at the same
 * time make one slot or one renewal; the rest are refused as already spent).
 */

export interface TokenRecord {
  tokenId: string;
  /** What the token was issued for, msat. */
  valueMsat: bigint;
  /** What was paid, msat, once confirmed; null before. This is what the token spends. */
  amountMsat: bigint | null;
  /** The Lightning invoice's payment hash (hex); null for a token bought through the hub. */
  paymentHash: string | null;
  /** The hub's transaction id, for a token bought through the hub; null otherwise. */
  hubTransaction: string | null;
  /** Milliseconds since the epoch. */
  createdAt: number;
  confirmedAt: number | null;
  spentAt: number | null;
  /** The slot it was spent on. */
  slotId: number | null;
}

export interface SlotRecord {
  /** 1, 2, 3…: 0 is never a slot (it asks for a new one). */
  slotId: number;
  /** Milliseconds since the epoch. */
  expiresAt: number;
  createdAt: number;
}

export interface NewLightningToken {
  tokenId: string;
  valueMsat: bigint;
  paymentHash: string;
  createdAt: number;
}

export interface HubPaidToken {
  /** The id to give the token if this transaction has none yet. */
  tokenId: string;
  valueMsat: bigint;
  amountMsat: bigint;
  hubTransaction: string;
  at: number;
}

/**
 * The new expiry of the slot the token is spent on, from its current one (undefined: a new slot)
 * and the token; undefined when that would be too far in the future. Runs inside the transaction:
 * pure and synchronous.
 */
export type ExtendSlot = (currentExpiresAt: number | undefined, token: TokenRecord) => number | undefined;

export type SpendOutcome =
  | { ok: true; slot: SlotRecord; token: TokenRecord }
  | { ok: false; reason: 'unknown-token' | 'not-paid' | 'spent' | 'unknown-slot' | 'too-far' };

export interface SlotStore {
  /** Records a token issued with a Lightning invoice, unpaid. */
  addToken(t: NewLightningToken): Promise<void>;
  token(tokenId: string): Promise<TokenRecord | undefined>;
  /** Records what was paid for the token, once: a second confirmation changes nothing. Undefined for an unknown token. */
  confirmToken(tokenId: string, amountMsat: bigint, at: number): Promise<TokenRecord | undefined>;
  /**
   * The token a hub payment bought: created, confirmed, the first time a transaction is seen;
   * the same token (spent or not) every later time, so a retried request cannot mint a second one.
   */
  tokenForHubPayment(t: HubPaidToken): Promise<TokenRecord>;
  /**
   * Spends a confirmed, unspent token on slot `slotId`, or on a new slot when `slotId` is 0, at `at`:
   * the token and the slot change together or not at all.
   */
  spendToken(tokenId: string, slotId: number, at: number, extend: ExtendSlot): Promise<SpendOutcome>;
  slot(slotId: number): Promise<SlotRecord | undefined>;
  close(): Promise<void>;
}

/** Table names start with this (default `tollway_`), so the kit's tables sit beside the merchant's own. */
export function checkPrefix(prefix: string | undefined): string {
  const p = prefix ?? 'tollway_';
  if (!/^[a-z_][a-z0-9_]{0,40}$/.test(p)) throw new TypeError('slot store: tablePrefix must be lower-case letters, digits and _');
  return p;
}

/** What an SQL store needs to know. */
export interface SqlStoreOptions {
  /** Table names start with this (default `tollway_`). */
  tablePrefix?: string;
}
