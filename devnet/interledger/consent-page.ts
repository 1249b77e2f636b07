/**
 * The wallet's own consent page for an interactive outgoing-payment grant: who asks, from which
 * wallet, to whom, how much and under what limit, with Approve and Reject as two real forms (no
 * script), so a browser, a screen reader or a test's fetch can use it alike.
 */

export interface ConsentView {
  /** Form targets: `<interaction URL>/approve` and `/reject`. */
  approveAction: string;
  rejectAction: string;
  /** The client's wallet address (whoever asks: the hub), and its public name when it has one. */
  client: string;
  clientName?: string;
  payerName: string;
  payerUrl: string;
  /** The payee's name and wallet address, when the grant is for one receiver. */
  payee?: { name: string; url: string };
  /** "12.50 USD" and what it limits: the debit or the delivered amount. */
  amount?: { text: string; kind: 'debit' | 'receive' };
  /** "every month from 2025-01-01" or undefined for a one-off limit. */
  renews?: string;
  expiresAt: Date;
}

export const esc = (s: string): string =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

/** `value` in the asset's smallest unit as a decimal with `scale` places and its code: 1250n, 2 → "12.50 USD". */
export function formatAmount(value: bigint, assetCode: string, assetScale: number): string {
  const digits = value.toString().padStart(assetScale + 1, '0');
  const whole = assetScale ? digits.slice(0, -assetScale) : digits;
  const fraction = assetScale ? `.${digits.slice(-assetScale)}` : '';
  return `${whole}${fraction} ${assetCode}`;
}

const STYLE = `body{font:16px/1.5 system-ui,sans-serif;max-width:34rem;margin:3rem auto;padding:0 1rem;color:#1d1d1f}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.35rem 1rem}dt{font-weight:600}dd{margin:0;word-break:break-all}
.actions{display:flex;gap:1rem;margin-top:1.5rem}button{font:inherit;padding:.55rem 1.4rem;border-radius:.4rem;border:1px solid #555;cursor:pointer}
.approve{background:#14532d;color:#fff;border-color:#14532d}.reject{background:#fff;color:#7f1d1d;border-color:#7f1d1d}
button:focus-visible{outline:3px solid #2563eb;outline-offset:2px}.note{color:#444;font-size:.9rem}`;

function page(title: string, body: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)} · Local Interledger wallet</title><style>${STYLE}</style></head>
<body><main>
${body}
</main></body></html>
`;
}

export function consentPage(v: ConsentView): string {
  const asker = v.clientName ? `${esc(v.clientName)} (<code>${esc(v.client)}</code>)` : `<code>${esc(v.client)}</code>`;
  const rows = [
    `<dt>Requested by</dt><dd>${asker}</dd>`,
    `<dt>From</dt><dd>${esc(v.payerName)} (<code>${esc(v.payerUrl)}</code>)</dd>`,
    `<dt>To</dt><dd>${v.payee ? `${esc(v.payee.name)} (<code>${esc(v.payee.url)}</code>)` : 'any payee'}</dd>`,
    `<dt>Amount</dt><dd id="amount">${v.amount ? `${esc(v.amount.text)}${v.amount.kind === 'receive' ? ' delivered to the payee' : ''}` : 'no amount set'}</dd>`,
    `<dt>Limit</dt><dd id="limit">${
      v.amount
        ? v.renews
          ? `up to ${esc(v.amount.text)} ${esc(v.renews)}`
          : `up to ${esc(v.amount.text)} in total, once`
        : 'no limit: any amount until revoked'
    }</dd>`,
  ];
  return page(
    'Approve a payment',
    `<h1>Approve a payment?</h1>
<p>A site asks to pay from your wallet. Nothing is paid unless you approve.</p>
<dl aria-label="Payment request">
${rows.join('\n')}
</dl>
<div class="actions">
<form method="post" action="${esc(v.approveAction)}"><button type="submit" class="approve" name="choice" value="approve">Approve</button></form>
<form method="post" action="${esc(v.rejectAction)}"><button type="submit" class="reject" name="choice" value="reject">Reject</button></form>
</div>
<p class="note">This request expires at <time datetime="${v.expiresAt.toISOString()}">${esc(v.expiresAt.toISOString())}</time>.</p>`,
  );
}

export function closedPage(title: string, message: string): string {
  return page(title, `<h1>${esc(title)}</h1>\n<p role="status">${esc(message)}</p>`);
}
