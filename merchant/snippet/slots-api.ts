/**
 * The join dialog's calls to the merchant's slots API (merchant/slots/, mounted at `data-slots`),
 * in its wire shapes: JSON integers for msat values and slot ids, read into bigint and numbers.
 * Every call resolves to the answer or throws a SlotsApiError carrying the problem's detail.
 */
import { isRecord } from '@tollway/shared/json.js';
import { formatUnits } from '@tollway/shared/units.js';

export class SlotsApiError extends Error {
  constructor(
    message: string,
    /** The problem type's last segment (`token-spent`), or '' when the answer was no problem. */
    readonly code: string,
    readonly status: number,
  ) {
    super(message);
    this.name = 'SlotsApiError';
  }
}

export interface TokenInvoice {
  tokenId: string;
  bolt11: string;
  /** Unix seconds. */
  expiresAt: number;
  valueMsat: bigint;
}

export interface SlotDetails {
  tokenId: string;
  slotId: number;
  expiry: string;
}

/** What the extension injects as `window.tollway` (the part the dialog uses). */
export interface TollwayFetch {
  fetch(input: string, init?: RequestInit): Promise<Response>;
}

/** "300000" msat → "300 sats", without floating point. */
export const satsOf = (msat: bigint): string => `${formatUnits(msat, 3)} sats`;

const int = (v: unknown): bigint | null => (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 ? BigInt(v) : null);

export interface SlotsApi {
  feeRate(): Promise<bigint>;
  initToken(valueMsat: bigint): Promise<TokenInvoice>;
  /** True once the token's invoice is paid. */
  verify(tokenId: string): Promise<boolean>;
  /** Spends the token on slot `slotId` (0: a new slot). */
  spend(tokenId: string, slotId: number): Promise<SlotDetails>;
  expiry(slotId: number): Promise<string>;
  /** Buys a token through the extension (its approval window, a hub balance): the token id. */
  buyWithExtension(tollway: TollwayFetch, valueMsat: bigint): Promise<string>;
}

export function slotsApi(win: Window, base: string): SlotsApi {
  const root = base.replace(/\/+$/, '');
  async function answer(res: Response): Promise<Record<string, unknown>> {
    let body: unknown = null;
    try {
      body = await res.json();
    } catch {
      body = null;
    }
    if (!res.ok || !isRecord(body)) {
      const p = isRecord(body) ? body : {};
      const code = typeof p.type === 'string' ? p.type.replace(/^.*\//, '') : '';
      throw new SlotsApiError(typeof p.detail === 'string' ? p.detail : `the shop answered ${res.status}`, code, res.status);
    }
    return body;
  }
  const call = (path: string, init: RequestInit = {}) =>
    win
      .fetch(`${root}${path}`, {
        credentials: 'same-origin',
        cache: 'no-store',
        ...init,
        headers: { accept: 'application/json', ...init.headers },
      })
      .then(answer);
  const bad = (what: string): never => {
    throw new SlotsApiError(`the shop's ${what} answer is not what the slots API sends`, '', 200);
  };

  return {
    async feeRate() {
      return int((await call('/feerate')).fee_rate_per_month_in_msat) ?? bad('fee rate');
    },
    async initToken(valueMsat) {
      const b = await call(`/token/init/${valueMsat}`);
      const inv = isRecord(b.lightning_invoice) ? b.lightning_invoice : {};
      if (typeof b.token_id !== 'string' || typeof inv.bolt11 !== 'string' || typeof inv.expires_at !== 'number') return bad('token');
      return { tokenId: b.token_id, bolt11: inv.bolt11, expiresAt: inv.expires_at, valueMsat: int(b.value) ?? valueMsat };
    },
    async verify(tokenId) {
      return (await call(`/token/verify/${encodeURIComponent(tokenId)}`)).confirmed === true;
    },
    async spend(tokenId, slotId) {
      const b = await call('/spendtoken', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ token_id: tokenId, slot_id: slotId }),
      });
      if (typeof b.slot_id !== 'number' || typeof b.expiry_date !== 'string') return bad('spend');
      return { tokenId, slotId: b.slot_id, expiry: b.expiry_date };
    },
    async expiry(slotId) {
      const b = await call(`/slotexpiry/${slotId}`);
      return typeof b.expiry_date === 'string' ? b.expiry_date : bad('expiry');
    },
    async buyWithExtension(tollway, valueMsat) {
      const res = await tollway.fetch(new URL(`${root}/token/buy/${valueMsat}`, win.location.href).href, {
        headers: { accept: 'application/json' },
        credentials: 'same-origin',
      });
      const b = await answer(res);
      return typeof b.token_id === 'string' && b.confirmed === true ? b.token_id : bad('purchase');
    },
  };
}
