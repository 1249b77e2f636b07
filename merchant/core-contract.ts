/**
 * What every framework-neutral core of the kit (the paywall, L402, the Payment scheme, offer)
 * takes from a framework adapter and gives back, so that one adapter per framework serves them
 * all: a described request in, a challenge to send (or "run the route") out. The Express adapters
 * live beside each core (middleware.ts, l402.ts, payment-scheme.ts, offer.ts) over
 * ./express-answer.ts; the Hono ones in ./hono.ts.
 */
import { ProblemError, type ProblemCode } from '@tollway/shared/problem.js';
import { BodyTooLargeError } from './body.js';

/** The request, as an adapter describes it. */
export interface CoreRequest<N = unknown> {
  /** Upper-case HTTP method. */
  method: string;
  /** Path and query exactly as received (Express `req.originalUrl`), e.g. `/api/x?q=1`. */
  url: string;
  /** Lower-case names; repeated headers joined with `, `. */
  headers: Readonly<Record<string, string | undefined>>;
  /**
   * The raw body, read only for a `body` binding: the bytes, or a reader called at most once with
   * the body limit that throws `BodyTooLargeError` past it. Absent: an empty body.
   */
  body?: Uint8Array | ((limit: number) => Promise<Uint8Array>);
  /** The client's address, as the framework sees it (rate limits key on it by default). */
  ip?: string;
  /** `http` or `https`, for the default resource URL `<protocol>://<host><url>`. Default `http`. */
  protocol?: string;
  /** The framework's own negotiation of `json` vs `html`; default: the core's, from `accept`. */
  prefersHtml?: boolean;
  /** The framework's request (Express `Request`, Hono `Context`), passed to callbacks. */
  native?: N;
}

/** Response headers, named as sent. Those in `LIST_HEADERS` add to a value already set. */
export type CoreHeaders = Record<string, string>;

/** Header names whose values an adapter appends to what is already set (a CORS middleware's list, …). */
export const LIST_HEADERS: ReadonlySet<string> = new Set(['vary', 'access-control-expose-headers']);

/** Answer this instead of running the route: a 402 or 401 challenge, or a 413 / 429 / 503 problem. */
export interface CoreChallenge {
  kind: 'challenge';
  status: number;
  headers: CoreHeaders;
  /** `application/json` (the x402 402) or `application/problem+json`. */
  contentType: 'application/json' | 'application/problem+json';
  /** The JSON body: the x402 PaymentRequired document (+ `detail`), or an RFC 9457 problem. */
  body: Record<string, unknown>;
  /** The HTML page, present when the client prefers HTML to JSON; send it instead of `body`. */
  html?: string;
}

/** Run the route with `locals`, and add `responseHeaders` to its answer. */
export interface CorePaid<L> {
  kind: 'paid';
  locals: L;
  responseHeaders: CoreHeaders;
}

/** A core as offer() and the adapters see it. */
export interface Core<N = unknown, L = unknown> {
  handle(req: CoreRequest<N>): Promise<CoreChallenge | CorePaid<L>>;
}

/** The property of a kit middleware (Express or Hono) that holds its core, for offer() to read. */
export const KIT_CORE = 'tollwayCore' as const;

/** The core a kit middleware carries, or undefined for any other function. */
export function coreOf<N>(middleware: unknown): Core<N> | undefined {
  if (typeof middleware !== 'function' || !(KIT_CORE in middleware)) return undefined;
  return (middleware as unknown as Record<typeof KIT_CORE, Core<N>>)[KIT_CORE];
}

/** Marks `middleware` with its core (not enumerable) and its discovery info under `infoKey`. */
export function withCore<T extends object>(middleware: T, core: Core<never>, infoKey: string, info: unknown): T {
  Object.defineProperty(middleware, KIT_CORE, { value: core });
  return Object.defineProperty(middleware, infoKey, { value: info, enumerable: true });
}

/** A problem of the shared catalogue as an answer, never cached. */
export function problemAnswer(
  code: ProblemCode,
  detail: string,
  headers: CoreHeaders = {},
  extra?: Record<string, unknown>,
): CoreChallenge {
  const p = new ProblemError(code, detail, extra);
  return {
    kind: 'challenge',
    status: p.status,
    headers: { 'Cache-Control': 'no-store', ...headers },
    contentType: 'application/problem+json',
    body: p.toProblem() as unknown as Record<string, unknown>,
  };
}

// A body reader may be called once; a core may need the body twice (a check, then a fresh challenge).
const bodies = new WeakMap<CoreRequest, Promise<Uint8Array>>();

/** The request's raw body (empty when none was given), read at most once per request. */
export function coreBody(req: CoreRequest, limit: number): Promise<Uint8Array> {
  let p = bodies.get(req);
  if (!p) {
    const b = req.body;
    p =
      b === undefined
        ? Promise.resolve(new Uint8Array(0))
        : typeof b === 'function'
          ? b(limit)
          : b.length > limit
            ? Promise.reject(new BodyTooLargeError(`request body over ${limit} bytes`))
            : Promise.resolve(b);
    bodies.set(req, p);
  }
  return p;
}
