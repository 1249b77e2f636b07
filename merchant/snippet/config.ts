/**
 * The button's settings, read from its script element's data attributes. Pure: the unit tests run
 * it in Node.
 */
import { ASSETS } from '@tollway/shared/assets.js';
import { formatUnits } from '@tollway/shared/units.js';

/** Decimals of each asset the button can charge in: the hub's assets. */
export const DECIMALS: Readonly<Record<string, number>> = Object.fromEntries(Object.entries(ASSETS).map(([code, a]) => [code, a.decimals]));

const decimalsOf = (asset: string): number | undefined => (Object.hasOwn(DECIMALS, asset) ? DECIMALS[asset] : undefined);

/** "1500000000000000", "SOVR" → "0.0015 SOVR", without floating point. */
export function formatAmount(base: string, asset: string): string {
  const decimals = decimalsOf(asset);
  const digits = String(base).replace(/^0+(?=\d)/, '');
  if (decimals === undefined || !/^\d+$/.test(digits)) return `${digits} ${asset}`;
  return `${formatUnits(BigInt(digits), decimals)} ${asset}`;
}

/** The hub's base URL from the script's own src: "https://hub.example/x/tollway.js?v=1" → "https://hub.example/x". */
export function hubFromSrc(src: string): string {
  const u = new URL(src);
  u.search = '';
  u.hash = '';
  return u.href.replace(/\/[^/]*$/, '');
}

/** The data attributes the button reads (`data-install-url` arrives as `installUrl`). */
export type Attrs = Partial<
  Record<'hub' | 'merchant' | 'price' | 'asset' | 'description' | 'resource' | 'label' | 'target' | 'installUrl', string>
>;

export interface Config {
  hub: string;
  merchant: string;
  /** Base units, a decimal string without leading zeros. */
  price: string;
  asset: string;
  description: string;
  /** The URL paid for, without its fragment. */
  resource: string;
  label: string;
  /** A CSS selector to render into, or ''. */
  target: string;
  /** An http(s) URL, or ''. */
  installUrl: string;
}

export type ConfigResult = { ok: true; config: Config } | { ok: false; error: string };

/** The settings from the data attributes, the script's src and the page URL, or what is wrong with them. */
export function readConfig(attrs: Attrs | null | undefined, scriptSrc: string, pageUrl: string): ConfigResult {
  const a = attrs ?? {};
  let hub: string;
  try {
    hub = a.hub ? new URL(a.hub).href.replace(/\/+$/, '') : hubFromSrc(scriptSrc);
  } catch {
    return { ok: false, error: 'cannot tell the hub URL (set data-hub)' };
  }
  if (!/^https?:\/\//.test(hub)) return { ok: false, error: 'the hub must be an http(s) URL' };
  const merchant = (a.merchant ?? '').trim();
  if (!merchant) return { ok: false, error: 'data-merchant is required' };
  const rawPrice = (a.price ?? '').trim();
  if (!/^\d{1,78}$/.test(rawPrice) || /^0+$/.test(rawPrice))
    return { ok: false, error: 'data-price must be a whole number of base units above 0' };
  const price = rawPrice.replace(/^0+/, '');
  const asset = (a.asset || 'SOVR').trim().toUpperCase();
  if (decimalsOf(asset) === undefined) return { ok: false, error: `data-asset must be one of ${Object.keys(DECIMALS).join(', ')}` };
  let resource: string;
  try {
    const r = new URL(a.resource || pageUrl, pageUrl);
    r.hash = '';
    resource = r.href;
  } catch {
    return { ok: false, error: 'data-resource is not a URL' };
  }
  return {
    ok: true,
    config: {
      hub,
      merchant,
      price,
      asset,
      description: (a.description ?? '').trim(),
      resource,
      label: (a.label ?? '').trim() || `Pay ${formatAmount(price, asset)} with Tollway`,
      target: (a.target ?? '').trim(),
      installUrl: a.installUrl && /^https?:\/\//.test(a.installUrl) ? a.installUrl : '',
    },
  };
}
