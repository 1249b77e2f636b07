/**
 * Request binding: a receipt is good for the request parts the merchant calls significant.
 * rqh = base64url(sha256(parts joined by "\n")), parts in the fixed order method, path, query,
 * body (as its sha256 hex), keeping only those listed in `bind`. Browser and Node both have
 * WebCrypto, so the hub, the extension and the middleware share this one implementation.
 */
export const BIND_PARTS = ['method', 'path', 'query', 'body'] as const;
export type BindPart = (typeof BIND_PARTS)[number];
export const DEFAULT_BIND: readonly BindPart[] = ['method', 'path'];

export interface BoundRequest {
  method: string;
  url: string;
  /** sha256 hex of the body bytes; the empty body's hash when absent. */
  bodyHash?: string;
}

const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

export function bindingInput(req: BoundRequest, bind: readonly BindPart[] = DEFAULT_BIND): string {
  const u = new URL(req.url);
  const values: Record<BindPart, string> = {
    method: req.method.toUpperCase(),
    path: u.pathname,
    query: u.search.startsWith('?') ? u.search.slice(1) : u.search,
    body: (req.bodyHash ?? EMPTY_SHA256).toLowerCase(),
  };
  return BIND_PARTS.filter((p) => bind.includes(p))
    .map((p) => values[p])
    .join('\n');
}

export async function requestHash(req: BoundRequest, bind: readonly BindPart[] = DEFAULT_BIND): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(bindingInput(req, bind)));
  return base64url(new Uint8Array(digest));
}

function base64url(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}
