/**
 * One route, several ways to pay: x402 (`paywall()`), L402 (`l402()`) and the "Payment" scheme
 * (`paymentScheme()`) in a single 402.
 *
 * @example
 * ```ts
 * app.get('/api/quote', offer({
 *   x402: paywall({ hub, merchantId, price: '2000', asset: 'BTC' }),
 *   l402: l402({ node, price: 2000n, service: 'quotes', validSeconds: 3600, rootKeySecret }),
 *   payment: paymentScheme({ node, price: 2000n, secret }),
 * }), handler);
 * ```
 *
 * A request that carries a credential goes to the one middleware it is for, which alone decides
 * (and answers a bad one its own way): `Authorization: Payment …` to `payment`, `Authorization:
 * L402|LSAT …` to `l402`, `PAYMENT-SIGNATURE` or `X-PAYMENT` to `x402`. A request with none is
 * asked of each middleware in turn, each answer held back instead of sent; the 402s are then sent
 * as one: every header of each (`WWW-Authenticate` as one value per challenge, Payment first),
 * x402's body (the JSON document, or the HTML page for browsers), else the first one's. Each
 * middleware that issues invoices issues one per unpaid request, so a 402 with both L402 and
 * Payment costs two invoices. A middleware that answers something else (429, 503) is left out of
 * the 402; when none answered 402, the first answer is sent as it was.
 *
 * Payment comes first in `WWW-Authenticate` because Alby's `fetchWithMpp` reads a joined value
 * only when it starts with `Payment` (and takes the last value of each parameter, which the L402
 * challenge after it does not name).
 */
import type { NextFunction, Request, RequestHandler, Response } from 'express';

export interface OfferOptions {
  x402?: RequestHandler;
  l402?: RequestHandler;
  payment?: RequestHandler;
}

interface Held {
  status: number;
  headers: Record<string, string | string[] | number>;
  body: Buffer;
}

/** Runs `handler` with the response held back: what it would have sent, or 'next' when it let the request through. */
function hold(handler: RequestHandler, req: Request, res: Response): Promise<Held | 'next' | { error: unknown }> {
  const saved = { end: res.end, write: res.write, writeHead: res.writeHead, status: res.statusCode };
  const before = res.getHeaders();
  const chunks: Buffer[] = [];
  const toBuf = (c: unknown, enc?: unknown) =>
    typeof c === 'string' ? Buffer.from(c, typeof enc === 'string' ? (enc as BufferEncoding) : 'utf8') : Buffer.from(c as Uint8Array);
  const restore = (): Held => {
    const held: Held = { status: res.statusCode, headers: { ...res.getHeaders() } as Held['headers'], body: Buffer.concat(chunks) };
    Object.assign(res, { end: saved.end, write: saved.write, writeHead: saved.writeHead });
    for (const name of res.getHeaderNames()) res.removeHeader(name);
    for (const [name, value] of Object.entries(before)) if (value !== undefined) res.setHeader(name, value);
    res.statusCode = saved.status;
    return held;
  };
  return new Promise((resolve) => {
    let done = false;
    const finish = (v: Held | 'next' | { error: unknown }) => {
      if (done) return;
      done = true;
      resolve(v);
    };
    res.write = ((c: unknown, enc?: unknown) => {
      if (c != null) chunks.push(toBuf(c, enc));
      return true;
    }) as Response['write'];
    res.writeHead = ((status: number) => {
      res.statusCode = status;
      return res;
    }) as unknown as Response['writeHead'];
    res.end = ((c?: unknown, enc?: unknown) => {
      if (c != null && typeof c !== 'function') chunks.push(toBuf(c, enc));
      finish(restore());
      return res;
    }) as Response['end'];
    try {
      handler(req, res, (err?: unknown) => {
        restore();
        finish(err ? { error: err } : 'next');
      });
    } catch (error) {
      restore();
      finish({ error });
    }
  });
}

export function offer(opts: OfferOptions): RequestHandler {
  const all = (['payment', 'l402', 'x402'] as const).filter((k) => opts[k]).map((k) => ({ kind: k, handler: opts[k]! }));
  if (!all.length) throw new RangeError('offer(): give at least one of x402, l402, payment');

  const credentialFor = (req: Request): RequestHandler | undefined => {
    const auth = req.headers.authorization;
    if (typeof auth === 'string' && /^\s*Payment(\s|$)/i.test(auth)) return opts.payment;
    if (typeof auth === 'string' && /^\s*(L402|LSAT)(\s|$)/i.test(auth)) return opts.l402;
    if (req.headers['payment-signature'] !== undefined || req.headers['x-payment'] !== undefined) return opts.x402;
    return undefined;
  };

  return (req: Request, res: Response, next: NextFunction) => {
    const direct = credentialFor(req);
    if (direct) return direct(req, res, next);
    (async () => {
      const answers: { kind: (typeof all)[number]['kind']; held: Held }[] = [];
      for (const { kind, handler } of all) {
        const got = await hold(handler, req, res);
        if (got === 'next') return next(); // a middleware that lets an unpaid request through: so be it
        if ('error' in got) return next(got.error);
        answers.push({ kind, held: got });
      }
      const challenges = answers.filter((a) => a.held.status === 402);
      if (!challenges.length) return send(res, answers[0]!.held);
      const main = challenges.find((a) => a.kind === 'x402') ?? challenges[0]!;
      const merged: Held = { status: 402, headers: {}, body: main.held.body };
      const wwwAuthenticate: string[] = [];
      for (const { held } of challenges) {
        for (const [name, value] of Object.entries(held.headers)) {
          if (name === 'www-authenticate') wwwAuthenticate.push(...(Array.isArray(value) ? value : [String(value)]));
          else if (name === 'vary' || name === 'access-control-expose-headers') {
            const had = merged.headers[name] ? String(merged.headers[name]).split(/\s*,\s*/) : [];
            merged.headers[name] = [...new Set([...had, ...String(value).split(/\s*,\s*/)])].join(', ');
          } else if (!(name in merged.headers)) merged.headers[name] = value;
        }
      }
      // The body (and so its type and length) is the main answer's.
      for (const name of ['content-type', 'content-length', 'etag']) {
        delete merged.headers[name];
        if (main.held.headers[name] !== undefined) merged.headers[name] = main.held.headers[name]!;
      }
      merged.headers['cache-control'] = 'no-store';
      if (wwwAuthenticate.length) merged.headers['www-authenticate'] = wwwAuthenticate;
      send(res, merged);
    })().catch(next);
  };
}

function send(res: Response, held: Held): void {
  res.status(held.status);
  for (const [name, value] of Object.entries(held.headers)) res.setHeader(name, value);
  res.end(held.body);
}
