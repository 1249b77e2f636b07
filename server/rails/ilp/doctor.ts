import type { Writable } from 'node:stream';
import type { IlpConfig } from './config.js';

/**
 * `hub doctor`: the client wallet address answers, and its JWKS lists the hub's key under the
 * configured key id. Without that every wallet refuses the hub's signed requests.
 */
export async function checkClientWallet(s: IlpConfig, out: Writable, fetcher: typeof fetch = fetch): Promise<boolean> {
  out.write(`interledger client wallet address ${s.clientWalletAddress}\n`);
  const url = `${s.clientWalletAddress.replace(/\/+$/, '')}/jwks.json`;
  try {
    const res = await fetcher(url, { headers: { accept: 'application/json' }, signal: AbortSignal.timeout(10_000) });
    if (!res.ok) throw new Error(`${url} answered ${res.status}`);
    const jwks = (await res.json()) as { keys?: { kid?: string; x?: string }[] };
    const key = jwks.keys?.find((k) => k.kid === s.keyId);
    if (!key) throw new Error(`${url} lists no key with kid ${s.keyId}`);
    if (key.x !== s.key.publicJwk.x) throw new Error(`the key listed as ${s.keyId} is not the public half of TOLLWAY_ILP_PRIVATE_KEY`);
    out.write(`  ok   lists key ${s.keyId}, the public half of the hub's key\n`);
    return true;
  } catch (err) {
    out.write(`  FAIL ${(err as Error).message}\n`);
    return false;
  }
}
