/** The slots API's requests and answers, framework-neutral: JSON in the document's shapes, or an RFC 9457 problem. */
import { ProblemError, type ProblemCode } from '@tollway/shared/problem.js';
import type { CoreRequest } from '../core-contract.js';
import { jsonWithIntegers } from './wire.js';

/**
 * The request, as an adapter describes it: the kit's core contract (method, url as received with
 * the mount, headers, ip, protocol, and the raw `body` or its reader) plus where in the API it goes.
 */
export interface SlotsRequest extends CoreRequest {
  /** The path inside the API (after where it is mounted), e.g. `/token/init/1000`, without the query. */
  path: string;
  /** A body a parser already read (a JSON object); else `body` is read. */
  parsedBody?: unknown;
}

export interface SlotsAnswer {
  status: number;
  /** Named as sent. */
  headers: Record<string, string>;
  contentType: 'application/json' | 'application/problem+json' | 'text/html';
  body: string;
}

// Token and slot states change with every payment: no cache may answer for the merchant.
const NO_STORE = { 'Cache-Control': 'no-store' };

export const jsonAnswer = (body: unknown, status = 200, headers: Record<string, string> = {}): SlotsAnswer => ({
  status,
  headers: { ...NO_STORE, ...headers },
  contentType: 'application/json',
  body: jsonWithIntegers(body),
});

export const problemAnswer = (
  code: ProblemCode,
  detail: string,
  extra: Record<string, unknown> = {},
  headers: Record<string, string> = {},
): SlotsAnswer => problemOf(new ProblemError(code, detail, extra), headers);

export const problemOf = (p: ProblemError, headers: Record<string, string> = {}): SlotsAnswer => ({
  status: p.status,
  headers: { ...NO_STORE, ...headers },
  contentType: 'application/problem+json',
  body: jsonWithIntegers(p.toProblem()),
});
