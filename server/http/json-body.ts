import express, { type RequestHandler } from 'express';
import { ProblemError } from '../../shared/problem.js';

/**
 * How deeply a request body may nest. The hub's own bodies nest about six levels (a payment's
 * requirement.extra.bind); 32 leaves merchants room in `extra` while keeping every recursive
 * step after parsing (zod, serialising, logging) far from the stack's limit.
 */
export const MAX_JSON_DEPTH = 32;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;

/**
 * Whether UTF-8 JSON text opens more than `max` arrays or objects inside one another. One pass
 * over the bytes, no recursion, nothing built: it runs before the parser. Brackets inside strings
 * do not count; UTF-8 never uses bytes below 0x80 inside a multi-byte character, so a quote or a
 * bracket byte is always that character. Text that is not JSON may be miscounted, but the parser
 * refuses it anyway.
 */
export function nestsDeeperThan(text: Uint8Array, max: number): boolean {
  let depth = 0;
  let inString = false;
  let escaped = false;
  for (let i = 0; i < text.length; i++) {
    const b = text[i]!;
    if (inString) {
      if (escaped) escaped = false;
      else if (b === BACKSLASH) escaped = true;
      else if (b === QUOTE) inString = false;
    } else if (b === QUOTE) inString = true;
    else if (b === OPEN_ARRAY || b === OPEN_OBJECT) {
      if (++depth > max) return true;
    } else if (b === CLOSE_ARRAY || b === CLOSE_OBJECT) depth--;
  }
  return false;
}

/**
 * The JSON body parser of every route: the size limit, then (body-parser's `verify` hook, which
 * sees the raw bytes before parsing) UTF-8 only and the depth limit. A refusal is a problem the
 * error handler sends as is, and no route runs.
 */
export function jsonBodyParser(opts: { limit: string; maxDepth?: number }): RequestHandler {
  const maxDepth = opts.maxDepth ?? MAX_JSON_DEPTH;
  return express.json({
    limit: opts.limit,
    strict: true,
    type: ['application/json', 'application/*+json'],
    verify(_req, _res, buf, encoding) {
      // JSON between systems is UTF-8 (RFC 8259 §8.1). Scanning another encoding's bytes would
      // miscount, so the depth check could be walked around with UTF-16: refuse it instead.
      if (encoding !== 'utf-8' && encoding !== 'utf8') {
        throw new ProblemError('unsupported-media-type', 'send JSON as UTF-8');
      }
      if (nestsDeeperThan(buf, maxDepth)) {
        throw new ProblemError('validation-error', `the body nests arrays and objects more than ${maxDepth} levels deep`);
      }
    },
  });
}
