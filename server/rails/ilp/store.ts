import type { IlpState } from '../../../shared/ilp.js';
import { forUpdate, type Queryable } from '../../store/types.js';

/** A linked wallet address (`ilp_wallets`), as the hub found it when it was linked. */
export interface WalletRow {
  user_id: string;
  wallet_address: string;
  public_name: string | null;
  asset_code: string;
  asset_scale: number;
  auth_server: string;
  resource_server: string;
  linked_at: number;
}

/** An outgoing-payment grant the hub holds a token for (`ilp_grants`). */
export interface GrantRow {
  id: string;
  user_id: string;
  wallet_address: string;
  auth_server: string;
  access_token: string;
  manage_url: string;
  asset_code: string;
  asset_scale: number;
  limit_amount: string;
  interval: string | null;
  spent: string;
  period_start: number | null;
  /** 1: a budget the person approved for later payments too; 0: one payment's grant. */
  budget: number;
  state: 'active' | 'revoked';
  created_at: number;
  updated_at: number;
}

/** One payment on the rail (`ilp_payments`). */
export interface IlpPaymentRow {
  payment_id: string;
  user_id: string;
  state: IlpState;
  payer_wallet: string;
  payee_wallet: string;
  incoming_payment: string;
  quote_id: string;
  quote_expires_at: number | null;
  debit_value: string;
  debit_asset_code: string;
  debit_asset_scale: number;
  receive_value: string;
  budget_value: string | null;
  budget_interval: string | null;
  grant_id: string | null;
  finish_ref: string | null;
  client_nonce: string | null;
  as_nonce: string | null;
  grant_endpoint: string | null;
  interact_redirect: string | null;
  continue_uri: string | null;
  continue_token: string | null;
  consent_expires_at: number | null;
  interact_ref: string | null;
  outgoing_payment: string | null;
  failure: string | null;
  created_at: number;
  updated_at: number;
}

const PAYMENT_COLUMNS: (keyof IlpPaymentRow)[] = [
  'payment_id',
  'user_id',
  'state',
  'payer_wallet',
  'payee_wallet',
  'incoming_payment',
  'quote_id',
  'quote_expires_at',
  'debit_value',
  'debit_asset_code',
  'debit_asset_scale',
  'receive_value',
  'budget_value',
  'budget_interval',
  'grant_id',
  'finish_ref',
  'client_nonce',
  'as_nonce',
  'grant_endpoint',
  'interact_redirect',
  'continue_uri',
  'continue_token',
  'consent_expires_at',
  'interact_ref',
  'outgoing_payment',
  'failure',
  'created_at',
  'updated_at',
];
const GRANT_COLUMNS: (keyof GrantRow)[] = [
  'id',
  'user_id',
  'wallet_address',
  'auth_server',
  'access_token',
  'manage_url',
  'asset_code',
  'asset_scale',
  'limit_amount',
  'interval',
  'spent',
  'period_start',
  'budget',
  'state',
  'created_at',
  'updated_at',
];

// Both engines hand back integers as numbers here, but NUMERIC amounts as strings: normalise.
const asPayment = (r: IlpPaymentRow | undefined): IlpPaymentRow | undefined =>
  r && {
    ...r,
    debit_value: String(r.debit_value),
    receive_value: String(r.receive_value),
    budget_value: r.budget_value === null ? null : String(r.budget_value),
    debit_asset_scale: Number(r.debit_asset_scale),
    quote_expires_at: r.quote_expires_at === null ? null : Number(r.quote_expires_at),
    consent_expires_at: r.consent_expires_at === null ? null : Number(r.consent_expires_at),
    created_at: Number(r.created_at),
    updated_at: Number(r.updated_at),
  };
const asGrant = (r: GrantRow | undefined): GrantRow | undefined =>
  r && {
    ...r,
    limit_amount: String(r.limit_amount),
    spent: String(r.spent),
    asset_scale: Number(r.asset_scale),
    budget: Number(r.budget),
    period_start: r.period_start === null ? null : Number(r.period_start),
    created_at: Number(r.created_at),
    updated_at: Number(r.updated_at),
  };

export async function insertIlpPayment(q: Queryable, row: IlpPaymentRow): Promise<void> {
  await q.run(
    `INSERT INTO ilp_payments (${PAYMENT_COLUMNS.join(', ')}) VALUES (${PAYMENT_COLUMNS.map(() => '?').join(', ')})`,
    PAYMENT_COLUMNS.map((c) => row[c]),
  );
}

export async function loadIlpPayment(q: Queryable, paymentId: string, lock = false): Promise<IlpPaymentRow | undefined> {
  return asPayment(
    await q.get<IlpPaymentRow>(`SELECT ${PAYMENT_COLUMNS.join(', ')} FROM ilp_payments WHERE payment_id = ?${lock ? forUpdate(q) : ''}`, [
      paymentId,
    ]),
  );
}

export async function loadByFinishRef(q: Queryable, ref: string, lock = false): Promise<IlpPaymentRow | undefined> {
  return asPayment(
    await q.get<IlpPaymentRow>(`SELECT ${PAYMENT_COLUMNS.join(', ')} FROM ilp_payments WHERE finish_ref = ?${lock ? forUpdate(q) : ''}`, [
      ref,
    ]),
  );
}

/** Consents still awaited whose time ran out by `now`. */
export async function lapsedConsents(q: Queryable, now: number, limit: number): Promise<IlpPaymentRow[]> {
  const rows = await q.all<IlpPaymentRow>(
    `SELECT ${PAYMENT_COLUMNS.join(', ')} FROM ilp_payments WHERE state = 'awaiting-consent' AND consent_expires_at <= ? LIMIT ?`,
    [now, limit],
  );
  return rows.map((r) => asPayment(r)!);
}

/**
 * Moves a payment from one state to the next with the given fields, only if it is still in `from`:
 * the guard that lets two redirects, or a redirect and a restart, race without both going on.
 */
export async function advance(
  q: Queryable,
  paymentId: string,
  from: IlpState | readonly IlpState[],
  set: Partial<IlpPaymentRow>,
  now: number,
): Promise<boolean> {
  const froms = typeof from === 'string' ? [from] : from;
  const fields = Object.entries({ ...set, updated_at: now });
  const r = await q.run(
    `UPDATE ilp_payments SET ${fields.map(([k]) => `${k} = ?`).join(', ')} WHERE payment_id = ? AND state IN (${froms.map(() => '?').join(', ')})`,
    [...fields.map(([, v]) => v), paymentId, ...froms],
  );
  return r.changes === 1;
}

export async function loadWallet(q: Queryable, userId: string): Promise<WalletRow | undefined> {
  const r = await q.get<WalletRow>(
    'SELECT user_id, wallet_address, public_name, asset_code, asset_scale, auth_server, resource_server, linked_at FROM ilp_wallets WHERE user_id = ?',
    [userId],
  );
  return r && { ...r, asset_scale: Number(r.asset_scale), linked_at: Number(r.linked_at) };
}

export async function saveWallet(q: Queryable, w: WalletRow): Promise<void> {
  await q.run('DELETE FROM ilp_wallets WHERE user_id = ?', [w.user_id]);
  await q.run(
    `INSERT INTO ilp_wallets (user_id, wallet_address, public_name, asset_code, asset_scale, auth_server, resource_server, linked_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
    [w.user_id, w.wallet_address, w.public_name, w.asset_code, w.asset_scale, w.auth_server, w.resource_server, w.linked_at],
  );
}

export async function deleteWallet(q: Queryable, userId: string): Promise<boolean> {
  return (await q.run('DELETE FROM ilp_wallets WHERE user_id = ?', [userId])).changes > 0;
}

export async function insertGrant(q: Queryable, g: GrantRow): Promise<void> {
  await q.run(
    `INSERT INTO ilp_grants (${GRANT_COLUMNS.join(', ')}) VALUES (${GRANT_COLUMNS.map(() => '?').join(', ')})`,
    GRANT_COLUMNS.map((c) => g[c]),
  );
}

export async function loadGrant(q: Queryable, id: string, lock = false): Promise<GrantRow | undefined> {
  return asGrant(await q.get<GrantRow>(`SELECT ${GRANT_COLUMNS.join(', ')} FROM ilp_grants WHERE id = ?${lock ? forUpdate(q) : ''}`, [id]));
}

/** The person's budget grants still active on a wallet, oldest first (each locked, in a transaction). */
export async function activeBudgets(q: Queryable, userId: string, walletAddress?: string, lock = false): Promise<GrantRow[]> {
  const rows = await q.all<GrantRow>(
    `SELECT ${GRANT_COLUMNS.join(', ')} FROM ilp_grants WHERE user_id = ? AND state = 'active' AND budget = 1${walletAddress ? ' AND wallet_address = ?' : ''}
     ORDER BY created_at, id${lock ? forUpdate(q) : ''}`,
    walletAddress ? [userId, walletAddress] : [userId],
  );
  return rows.map((r) => asGrant(r)!);
}

export async function updateGrantSpend(q: Queryable, id: string, spent: bigint, periodStart: number | null, now: number): Promise<void> {
  await q.run('UPDATE ilp_grants SET spent = ?, period_start = ?, updated_at = ? WHERE id = ?', [spent.toString(), periodStart, now, id]);
}

export async function revokeGrantRow(q: Queryable, id: string, now: number): Promise<void> {
  await q.run(`UPDATE ilp_grants SET state = 'revoked', updated_at = ? WHERE id = ?`, [now, id]);
}
