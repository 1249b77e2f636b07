/**
 * Messages from extension pages to the service worker, and the replies. Both ends validate: a page
 * may be stale (opened by an older worker) and the worker trusts nothing it did not check.
 * Pages read state straight from chrome.storage (and its onChanged event); messages only ask the
 * worker to act.
 */
import { z } from 'zod';

export const PageMessage = z.discriminatedUnion('type', [
  z.object({ type: z.literal('approval.decide'), id: z.string().min(1).max(200), approve: z.boolean() }),
  z.object({ type: z.literal('approval.rejectAll') }),
]);
export type PageMessage = z.infer<typeof PageMessage>;

export const Reply = z.union([z.object({ ok: z.literal(true) }), z.object({ ok: z.literal(false), error: z.string() })]);
export type Reply = z.infer<typeof Reply>;
