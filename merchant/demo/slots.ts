/**
 * The demo shop's publication slots (issue 12's "Mainstay" flow): time on a numbered slot where one
 * publishes a commitment (a sha256 hash), bought ahead with a prepaid token.
 *
 * - `/slots/…`: the merchant kit's slots() API, with invoices from the shop's own Lightning node
 *   and tokens also sold through the hub (the extension pays them from a hub balance);
 * - `GET /publication`: the page, with the snippet's join dialog (`data-slots="/slots"`);
 * - `POST /publication/commitments {commitment}` with `Slot-Id`: behind requireSlot(); an expired
 *   slot is a 402 the page turns into the renewal dialog.
 */
import express, { type Express, type NextFunction, type Request, type Response } from 'express';
import type { LightningNode } from '@tollway/lightning/node.js';
import { ProblemError } from '@tollway/shared/problem.js';
import { slots, type PaidSlot } from '../slots/express.js';
import type { SlotStore } from '../slots/store.js';

/** 1,000 sats a month (30 days), in msat. */
export const PUBLICATION_FEE_MSAT = 1_000_000n;

export interface PublicationDeps {
  node: Pick<LightningNode, 'createInvoice' | 'lookupInvoice'>;
  /** Where tokens and slots are kept: a store, a SQLite path or a postgres:// URL. Default: in memory (as long as the shop runs). */
  store?: SlotStore | string;
  hub: string;
  merchantId: string;
  origin?: string;
  snippetUrl: string;
  /** Wraps the page's body in the shop's layout. */
  page(title: string, body: string): string;
}

const esc = (s: string): string =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

// The page's own script: publish with the slot id, and ask the join dialog for a renewal when the slot has expired.
const PUBLISH_SCRIPT = `<script>
document.getElementById('publish-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const slotId = document.getElementById('slot-id').value.trim();
  const commitment = document.getElementById('commitment').value.trim();
  const out = document.getElementById('publish-result');
  const r = await fetch('/publication/commitments', {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'slot-id': slotId },
    body: JSON.stringify({ commitment }),
  });
  const b = await r.json();
  out.textContent = r.ok ? 'Published in slot ' + b.slot_id + ' (paid until ' + b.expiry_date + ').' : b.detail;
  if (r.status === 402 && String(b.type).endsWith('/slot-expired'))
    document.dispatchEvent(new CustomEvent('tollway:slot-expired', { detail: { slotId: b.slot_id } }));
});
</script>`;

export function mountPublicationSlots(app: Express, deps: PublicationDeps): void {
  const api = slots({
    node: deps.node,
    store: deps.store ?? ':memory:',
    feeRatePerMonthMsat: PUBLICATION_FEE_MSAT,
    hub: { url: deps.hub, merchantId: deps.merchantId, ...(deps.origin ? { origin: deps.origin } : {}) },
    memo: 'Tollway demo shop: publication slot token',
  });
  app.use('/slots', api);
  const published = new Map<number, string>();

  app.get('/publication', (_req, res) => {
    res.type('html').send(
      deps.page(
        'Publication slots',
        `<h1>Publication slots</h1>
<p>Rent a numbered slot and publish a commitment in it: a sha256 hash that proves later what you knew today.
A slot costs ${PUBLICATION_FEE_MSAT / 1000n} sats a month, paid ahead over Lightning; pay again to renew it.</p>
<script src="${esc(deps.snippetUrl)}" data-slots="/slots"></script>
<h2>Publish</h2>
<form id="publish-form">
<p><label for="slot-id">Slot id</label> <input id="slot-id" inputmode="numeric" autocomplete="off" required></p>
<p><label for="commitment">Commitment (64 hex digits)</label><br><input id="commitment" size="66" pattern="[0-9a-f]{64}" required></p>
<p><button type="submit">Publish</button></p>
</form>
<p id="publish-result" role="status"></p>
${
  published.size
    ? `<h2>Published</h2>\n<ul>\n${[...published].map(([slot, c]) => `<li>slot ${slot}: <code>${esc(c)}</code></li>`).join('\n')}\n</ul>`
    : ''
}
${PUBLISH_SCRIPT}`,
      ),
    );
  });

  app.post(
    '/publication/commitments',
    api.requireSlot(),
    express.json({ limit: '2kb' }),
    (req: Request, res: Response) => {
      const slot = res.locals.slot as PaidSlot;
      const commitment = (req.body as { commitment?: unknown } | undefined)?.commitment;
      if (typeof commitment !== 'string' || !/^[0-9a-f]{64}$/.test(commitment))
        return refuse(res, 'commitment must be 64 lower-case hex digits (a sha256 hash)');
      published.set(slot.slotId, commitment);
      res.json({ slot_id: slot.slotId, commitment, expiry_date: slot.expiresAt.toISOString() });
    },
    // A body that is not JSON (or too large) is the client's mistake, never the shop's 500.
    (err: Error & { status?: number }, _req: Request, res: Response, next: NextFunction) => {
      if (err.status === 400 || err.status === 413 || err.status === 415) return refuse(res, `the body is not valid: ${err.message}`);
      next(err);
    },
  );
}

function refuse(res: Response, detail: string): void {
  const p = new ProblemError('validation-error', detail);
  res.status(p.status).type('application/problem+json').send(JSON.stringify(p.toProblem()));
}
