/**
 * The slots API for Express: `slots()` is a handler to mount where the API should live, and
 * `requireSlot()` guards what a slot pays for.
 *
 * @example
 * ```ts
 * import { slots, requireSlot } from '@tollway/merchant';
 *
 * const api = slots({ node, store: 'slots.sqlite', feeRatePerMonthMsat: 300_000n }); // 300 sats a month
 * app.use('/slots', api);                     // GET /slots/feerate, /slots/token/init/:value, …
 * app.post('/publish', api.requireSlot(), (req, res) => {
 *   res.json({ slot: res.locals.slot.slotId }); // a live slot, named by the Slot-Id header
 * });
 * ```
 */
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { rawBody } from '../body.js';
import type { SlotsAnswer } from './answers.js';
import { type SlotsCore, slotsCore, type SlotsCoreOptions } from './core.js';
import { slotGate, type SlotGateOptions } from './require-slot.js';
import type { SlotRecord } from './store.js';

export type SlotsOptions = SlotsCoreOptions;

export interface RequireSlotOptions extends SlotGateOptions {
  /** Reads the slot id from the request. Default: the `Slot-Id` header. */
  slotId?: (req: Request) => string | undefined;
}

/** `res.locals.slot` after requireSlot() let a request through. */
export interface PaidSlot {
  slotId: number;
  expiresAt: Date;
}

export type SlotsHandler = RequestHandler & {
  readonly core: SlotsCore;
  /** requireSlot() with this API's store, pricing and clock; `slotsPath` is where it is mounted (default `/slots`). */
  requireSlot(opts?: Partial<RequireSlotOptions>): RequestHandler;
};

function send(res: Response, a: SlotsAnswer): void {
  res.status(a.status);
  for (const [k, v] of Object.entries(a.headers)) res.setHeader(k, v);
  res.type(a.contentType).send(a.body);
}

const headersOf = (req: Request): Record<string, string | undefined> =>
  Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(', ') : v]));

export function slots(opts: SlotsOptions): SlotsHandler {
  const core = slotsCore(opts);
  const handler: RequestHandler = (req, res, next) => {
    // A JSON parser that ran before us left an object (the stream is read); otherwise we read it.
    const parsed = req.body !== undefined && !Buffer.isBuffer(req.body) && typeof req.body === 'object' ? (req.body as unknown) : undefined;
    core
      .handle({
        method: req.method,
        path: req.path,
        url: req.originalUrl,
        headers: headersOf(req),
        ...(req.ip ? { ip: req.ip } : {}),
        protocol: req.protocol,
        ...(parsed !== undefined ? { parsedBody: parsed } : {}),
        body: (limit: number) => rawBody(req, limit),
      })
      .then((answer) => (answer ? send(res, answer) : next()), next);
  };
  return Object.assign(handler, {
    core,
    requireSlot: (o: Partial<RequireSlotOptions> = {}) =>
      requireSlot({ store: core.store, pricing: core.pricing, sellsThroughHub: core.sellsThroughHub, clock: core.clock, ...o }),
  });
}

/** Lets a request through with a live slot (`res.locals.slot`: PaidSlot); a 402 problem offering renewal otherwise. */
export function requireSlot(opts: RequireSlotOptions): RequestHandler {
  const check = slotGate(opts);
  const slotIdOf = opts.slotId ?? ((req: Request) => req.get('slot-id'));
  return (req: Request, res: Response, next: NextFunction) => {
    check(slotIdOf(req)).then((r) => {
      if (!r.ok) return send(res, r.answer);
      res.locals.slot = paidSlot(r.slot);
      next();
    }, next);
  };
}

const paidSlot = (s: SlotRecord): PaidSlot => ({ slotId: s.slotId, expiresAt: new Date(s.expiresAt) });
