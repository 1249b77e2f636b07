/**
 * One node:http server for the three Open Payments servers of the stand-in. Each route names its
 * operation in the official specs; the dispatcher refuses an unsigned request where the spec wants a
 * signature (401 invalid_client, as Rafiki does), refuses a request the operation's validator rejects
 * (400 invalid_request in the spec's error shape), and checks every JSON answer against the
 * operation's responses before sending it. An answer that fails that check is a bug of the stand-in:
 * it is recorded (see `violations`), and the client gets a 500 instead.
 */
import type { IncomingHttpHeaders, RequestListener, ServerResponse } from 'node:http';
import { type Operation, type Specs, SpecViolation } from './specs.js';

export interface Incoming {
  method: string;
  url: URL;
  /** The request URI as the client signed it (`@target-uri`): origin plus path and query, untouched. */
  targetUri: string;
  headers: IncomingHttpHeaders;
  /** The body exactly as received: what Content-Digest covers. */
  rawBody: string;
  /** The parsed JSON body (undefined when there is none), or the form fields of a form post. */
  body: unknown;
  params: Record<string, string>;
}

export type Outgoing =
  | { status: number; json?: unknown; headers?: Record<string, string> }
  | { status: number; html: string }
  | { status: number; redirect: string };

export interface Route {
  method: 'GET' | 'POST' | 'DELETE';
  /** Named groups become `params`. */
  pattern: RegExp;
  /** The spec operation, or none for the consent pages. */
  op?: Operation;
  /** `always`: every request; `with-token`: when it carries Authorization (the client signs those). */
  signed?: 'always' | 'with-token';
  handle(req: Incoming): Promise<Outgoing> | Outgoing;
}

export const MAX_BODY_BYTES = 64 * 1024;

/** GNAP and resource-server error bodies: `{error: {code, description}}`. */
export function errorBody(code: string, description: string): { error: { code: string; description: string } } {
  return { error: { code, description } };
}

async function readBody(req: AsyncIterable<Buffer | string>): Promise<string | undefined> {
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const c of req) {
    const chunk = typeof c === 'string' ? Buffer.from(c) : c;
    size += chunk.length;
    if (size > MAX_BODY_BYTES) return undefined;
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function parseBody(raw: string, contentType: string): { ok: true; body: unknown } | { ok: false } {
  if (raw === '') return { ok: true, body: undefined };
  if (contentType.startsWith('application/x-www-form-urlencoded')) return { ok: true, body: Object.fromEntries(new URLSearchParams(raw)) };
  try {
    return { ok: true, body: JSON.parse(raw) };
  } catch {
    return { ok: false };
  }
}

export interface OpenPaymentsHandler {
  listener: RequestListener;
  violations: string[];
}

export function openPaymentsHandler(deps: { origin: string; specs: Specs; routes: Route[] }): OpenPaymentsHandler {
  const violations: string[] = [];
  const { specs } = deps;

  const send = (res: ServerResponse, out: Outgoing, op?: Operation) => {
    if ('redirect' in out) {
      res.writeHead(out.status, { location: out.redirect, 'cache-control': 'no-store' }).end();
      return;
    }
    if ('html' in out) {
      res
        .writeHead(out.status, {
          'content-type': 'text/html; charset=utf-8',
          'cache-control': 'no-store',
          // The consent page must not be framed by the site asking for the payment (a real wallet's
          // is not either). No form-action: browsers apply it to the redirect that follows the post,
          // and that redirect goes to the client's finish URI on another origin.
          'x-frame-options': 'DENY',
          'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
        })
        .end(out.html);
      return;
    }
    if (op) {
      try {
        checkAnswer(op, out.status, out.json);
      } catch (err) {
        if (!(err instanceof SpecViolation)) throw err;
        violations.push(err.message);
        res
          .writeHead(500, { 'content-type': 'application/json' })
          .end(JSON.stringify(errorBody('internal', 'the stand-in broke its spec')));
        return;
      }
    }
    const headers: Record<string, string> = { ...(out.headers ?? {}) };
    if (out.json === undefined) {
      res.writeHead(out.status, headers).end();
      return;
    }
    res.writeHead(out.status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(out.json));
  };

  const checkAnswer = (op: Operation, status: number, body: unknown) => {
    try {
      specs.checkResponse(op, status, body);
    } catch (err) {
      // A 400 for a request the spec forbids is the same on every operation (the validator's answer),
      // even where the operation lists no 400: it must still have the spec's error shape.
      if (status === 400 && err instanceof SpecViolation && /unknown status code/.test(err.message)) {
        specs.checkErrorShape(op.spec, status, body);
        return;
      }
      throw err;
    }
  };

  const listener: RequestListener = (req, res) => {
    (async () => {
      const { origin } = deps;
      const url = new URL(req.url ?? '/', origin);
      const path = url.pathname;
      const method = req.method ?? 'GET';
      let matched: { route: Route; params: Record<string, string> } | undefined;
      let pathKnown = false;
      for (const route of deps.routes) {
        const m = route.pattern.exec(path);
        if (!m) continue;
        pathKnown = true;
        if (route.method !== method) continue;
        matched = { route, params: { ...(m.groups ?? {}) } };
        break;
      }
      if (!matched) {
        res.writeHead(pathKnown ? 405 : 404, { 'content-type': 'application/json' });
        res.end(JSON.stringify(errorBody(pathKnown ? 'method_not_allowed' : 'not_found', `${method} ${path}`)));
        return;
      }
      const { route, params } = matched;
      const op = route.op;
      const fail = (status: number, code: string, description: string) => {
        const body = errorBody(code, description);
        if (op) {
          try {
            checkAnswer(op, status, body);
          } catch (err) {
            if (!(err instanceof SpecViolation)) throw err;
            violations.push(err.message);
          }
        }
        res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
      };
      const raw = await readBody(req);
      if (raw === undefined) return fail(400, 'invalid_request', `a body over ${MAX_BODY_BYTES} bytes`);
      const parsed = parseBody(raw, String(req.headers['content-type'] ?? ''));
      if (!parsed.ok) return fail(400, 'invalid_request', 'the body is not JSON');
      const incoming: Incoming = {
        method,
        url,
        targetUri: origin + (req.url ?? '/'),
        headers: req.headers,
        rawBody: raw,
        body: parsed.body,
        params,
      };
      const mustSign = route.signed === 'always' || (route.signed === 'with-token' && req.headers.authorization !== undefined);
      if (mustSign && (!req.headers.signature || !req.headers['signature-input']))
        return fail(401, 'invalid_client', 'the request is not signed (Signature and Signature-Input are required)');
      if (op) {
        const problems = specs.checkRequest(op, {
          body: incoming.body,
          headers: req.headers,
          query: Object.fromEntries(url.searchParams),
          params,
        });
        if (problems) return fail(400, 'invalid_request', problems.join('; '));
      }
      send(res, await route.handle(incoming), op);
    })().catch((err: unknown) => {
      const message = err instanceof Error ? err.message : String(err);
      violations.push(`unhandled: ${message}`);
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' }).end(JSON.stringify(errorBody('internal', message)));
      else res.destroy();
    });
  };
  return { listener, violations };
}
