/**
 * The join dialog, for any page: the snippet with `data-slots` (where the merchant mounted slots(),
 * e.g. `data-slots="/slots"`) renders "Join" and "Pay for existing slot" instead of a pay button.
 *
 * "Join" opens "Create slot": the document's text with the fee rate, a choice of 1, 2, 3 months or
 * a custom number, the value that follows, then the token's invoice as a QR code with its text to
 * copy. "Verify" says "Payment not received" until the invoice is paid, then spends the token on a
 * new slot and shows the token id, slot id and expiry ("Save these details…"). "Pay for existing
 * slot" does the same for a slot id, extending it. With the extension (`window.tollway`), the token
 * is bought through it instead (its approval window, a hub balance): no QR code.
 *
 * A page whose own request was refused for an expired slot (requireSlot()'s 402 `slot-expired`)
 * dispatches `tollway:slot-expired` with `{slotId}` on the document: the renewal dialog opens with
 * the document's message. After each payment `tollway:slot` ({tokenId, slotId, expiry}) is
 * dispatched on the script element and bubbles.
 */
import { invoiceView } from './lightning.js';
import { type SlotDetails, SlotsApiError, slotsApi, satsOf, type TollwayFetch } from './slots-api.js';
import { el } from './ui.js';

export const EXPIRED_TEXT = 'Token has expired, renew it by making a payment for the slot.';
const BUTTON =
  'font:inherit;font-weight:600;padding:.5rem 1rem;border:0;border-radius:8px;background:#4b3fd8;color:#fff;cursor:pointer;margin:.5rem .5rem 0 0';
const QUIET =
  'font:inherit;padding:.5rem 1rem;border:1px solid #c8c8d8;border-radius:8px;background:#fff;cursor:pointer;margin:.5rem .5rem 0 0';
const FIELD = 'display:block;margin:.6rem 0 .2rem;font-weight:600';

type Mode = { kind: 'join' } | { kind: 'renew'; slotId?: number; expired?: boolean };

let dialogs = 0;

export function runSlots(script: HTMLScriptElement, win: Window & typeof globalThis): void {
  const doc = win.document;
  const api = slotsApi(win, new URL(script.dataset.slots || '/slots', win.location.href).href);
  const purpose = (script.dataset.purpose || 'proof-of-publication').trim();
  const fee = api.feeRate();
  fee.catch(() => undefined); // reported when a dialog needs it

  const box = el(doc, 'div', 'font:15px/1.45 system-ui,sans-serif;margin:1rem 0');
  box.className = 'tollway-slots';
  const join = el(doc, 'button', BUTTON, (script.dataset.label || 'Join').trim());
  join.type = 'button';
  const renew = el(doc, 'button', QUIET, 'Pay for existing slot');
  renew.type = 'button';
  box.append(join, renew);
  if (script.parentNode && script.parentNode !== doc.head) script.parentNode.insertBefore(box, script.nextSibling);
  else doc.body.appendChild(box);

  join.addEventListener('click', () => open({ kind: 'join' }, join));
  renew.addEventListener('click', () => open({ kind: 'renew' }, renew));
  doc.addEventListener('tollway:slot-expired', (e) => {
    const id = Number((e as CustomEvent<{ slotId?: unknown }>).detail?.slotId);
    open({ kind: 'renew', expired: true, ...(Number.isSafeInteger(id) && id > 0 ? { slotId: id } : {}) }, renew);
  });

  function open(mode: Mode, opener: HTMLElement): void {
    const n = ++dialogs;
    const dialog = el(
      doc,
      'dialog',
      'font:15px/1.45 system-ui,sans-serif;max-width:30rem;border:1px solid #d8d8e0;border-radius:12px;padding:1.2rem',
    );
    dialog.className = 'tollway-slots__dialog';
    dialog.setAttribute('aria-labelledby', `tollway-slots-title-${n}`);
    const title = el(doc, 'h2', 'margin:0 0 .6rem;font-size:1.25rem', mode.kind === 'join' ? 'Create slot' : 'Pay for existing slot');
    title.id = `tollway-slots-title-${n}`;
    const status = el(doc, 'p', 'min-height:1.4em;color:#444');
    status.setAttribute('role', 'status');
    status.setAttribute('aria-live', 'polite');
    const say = (text: string) => {
      status.textContent = text;
    };
    const close = el(doc, 'button', QUIET, 'Close');
    close.type = 'button';
    close.addEventListener('click', () => dialog.close());
    dialog.addEventListener('close', () => {
      dialog.remove();
      opener.focus();
    });
    const body = el(doc, 'div', '');
    dialog.append(title, body, status, close);
    doc.body.appendChild(dialog);
    dialog.showModal();

    const field = (label: string, control: HTMLInputElement | HTMLSelectElement) => {
      const id = `tollway-slots-${n}-${label.toLowerCase().replace(/\W+/g, '-')}`;
      control.id = id;
      const l = el(doc, 'label', FIELD, label);
      l.htmlFor = id;
      return [l, control];
    };
    if (mode.kind === 'renew' && mode.expired) {
      const alert = el(doc, 'p', 'color:#8a1c1c;font-weight:600', EXPIRED_TEXT);
      alert.setAttribute('role', 'alert');
      body.append(alert);
    }
    const intro = el(doc, 'p', 'margin:.2rem 0');
    body.append(intro);
    let slotInput: HTMLInputElement | undefined;
    if (mode.kind === 'renew') {
      slotInput = el(doc, 'input', 'font:inherit;padding:.3rem;width:10rem');
      slotInput.inputMode = 'numeric';
      slotInput.autocomplete = 'off';
      if (mode.slotId) slotInput.value = String(mode.slotId);
      body.append(...field('Slot id', slotInput));
    }
    const months = el(doc, 'select', 'font:inherit;padding:.3rem');
    for (const [v, text] of [
      ['1', '1 month'],
      ['2', '2 months'],
      ['3', '3 months'],
      ['custom', 'Custom'],
    ]) {
      const o = el(doc, 'option', '', text);
      o.value = v!;
      months.append(o);
    }
    const custom = el(doc, 'input', 'font:inherit;padding:.3rem;width:6rem');
    custom.type = 'number';
    custom.min = '1';
    custom.step = '1';
    custom.value = '4';
    const customFields = el(doc, 'div', 'display:none');
    customFields.append(...field('Number of months', custom));
    const value = el(doc, 'p', 'margin:.6rem 0 0');
    value.className = 'tollway-slots__value';
    value.setAttribute('aria-live', 'polite');
    const pay = el(doc, 'button', BUTTON, provider() ? 'Pay with Tollway' : 'Get invoice');
    pay.type = 'button';
    const invoiceBox = el(doc, 'div', '');
    body.append(...field('Period', months), customFields, value, pay, invoiceBox);
    (slotInput ?? months).focus();

    let feeRate = 0n;
    const monthsChosen = (): number | null => {
      const raw = months.value === 'custom' ? custom.value.trim() : months.value;
      return /^[1-9][0-9]{0,3}$/.test(raw) ? Number(raw) : null;
    };
    const slotChosen = (): number | null => {
      if (!slotInput) return 0;
      const raw = slotInput.value.trim();
      return /^[1-9][0-9]{0,15}$/.test(raw) ? Number(raw) : null;
    };
    const showValue = () => {
      customFields.style.display = months.value === 'custom' ? 'block' : 'none';
      const m = monthsChosen();
      value.textContent =
        m && feeRate ? `Value: ${satsOf(BigInt(m) * feeRate)} (${m} × ${satsOf(feeRate)})` : 'Choose a whole number of months.';
    };
    months.addEventListener('change', showValue);
    custom.addEventListener('input', showValue);
    fee.then(
      (f) => {
        feeRate = f;
        intro.textContent =
          mode.kind === 'join'
            ? `Pay with lightning to reserve a unique ${purpose} slot for ${satsOf(f)} a month`
            : `Pay with lightning to add time to your ${purpose} slot, at ${satsOf(f)} a month`;
        showValue();
      },
      () => say('The fee rate cannot be read right now. Close and try again later.'),
    );

    const failed = (err: unknown) => say(err instanceof SlotsApiError ? err.message : 'The shop cannot be reached. Try again.');

    /** The token is paid: spend it and show what to keep. */
    const finish = async (tokenId: string, slotId: number) => {
      say('Paid. Reserving your slot…');
      const spent: SlotDetails = await api.spend(tokenId, slotId);
      const expiry = await api.expiry(spent.slotId);
      script.dispatchEvent(new win.CustomEvent('tollway:slot', { bubbles: true, detail: { ...spent, expiry } }));
      title.textContent = 'Slot details';
      body.textContent = '';
      const list = el(doc, 'dl', 'display:grid;grid-template-columns:auto 1fr;gap:.3rem .8rem;margin:.4rem 0');
      list.className = 'tollway-slots__details';
      for (const [term, v] of [
        ['Token id', tokenId],
        ['Slot id', String(spent.slotId)],
        ['Expiry date', `${expiry.replace('T', ' ').slice(0, 16)} UTC`],
      ]) {
        const dd = el(doc, 'dd', 'margin:0;font-family:ui-monospace,monospace;overflow-wrap:anywhere', v);
        dd.dataset.field = term!;
        list.append(el(doc, 'dt', 'font-weight:600', term), dd);
      }
      body.append(list, el(doc, 'p', '', 'Save these details to commit data and generate proofs'));
      say('');
      close.focus();
    };

    pay.addEventListener('click', () => {
      const m = monthsChosen();
      const slotId = slotChosen();
      if (!m || !feeRate) return say('Choose a whole number of months.');
      if (slotId === null) return say('Enter the slot id: a whole number from 1.');
      const valueMsat = BigInt(m) * feeRate;
      pay.disabled = true;
      const tollway = provider();
      const checkSlot = slotId ? api.expiry(slotId) : Promise.resolve('');
      if (tollway) {
        say('Waiting for your approval in the Tollway window…');
        checkSlot
          .then(() => api.buyWithExtension(tollway, valueMsat))
          .then((tokenId) => finish(tokenId, slotId))
          .catch((err) => {
            pay.disabled = false;
            failed(err);
          });
        return;
      }
      checkSlot
        .then(() => api.initToken(valueMsat))
        .then((t) => {
          showInvoice(t.bolt11, t.tokenId, t.expiresAt, slotId);
          say('');
        })
        .catch((err) => {
          pay.disabled = false;
          failed(err);
        });
    });

    function showInvoice(bolt11: string, tokenId: string, expiresAt: number, slotId: number): void {
      months.disabled = true;
      custom.disabled = true;
      if (slotInput) slotInput.disabled = true;
      pay.style.display = 'none';
      const text = el(doc, 'input', 'font:12px ui-monospace,monospace;width:100%;padding:.3rem');
      text.readOnly = true;
      text.value = bolt11;
      text.className = 'tollway-slots__invoice';
      const copy = el(doc, 'button', QUIET, 'Copy');
      copy.type = 'button';
      copy.addEventListener('click', () => {
        text.select();
        const done = () => say('Invoice copied.');
        win.navigator.clipboard?.writeText(bolt11).then(done, () => say('Select the invoice and copy it.')) ??
          say('Select the invoice and copy it.');
      });
      const verify = el(doc, 'button', BUTTON, 'Verify');
      verify.type = 'button';
      verify.addEventListener('click', () => {
        verify.disabled = true;
        api
          .verify(tokenId)
          .then((paid) => {
            if (paid) return finish(tokenId, slotId);
            verify.disabled = false;
            say(Date.now() / 1000 > expiresAt ? 'The invoice expired. Close and start again.' : 'Payment not received');
          })
          .catch((err) => {
            verify.disabled = false;
            failed(err);
          });
      });
      invoiceBox.append(...invoiceView(doc, { invoice: bolt11 }), ...field('Invoice', text), copy, verify);
      verify.focus();
    }
  }

  function provider(): TollwayFetch | null {
    const t = (win as { tollway?: Partial<TollwayFetch> }).tollway;
    return t && typeof t.fetch === 'function' ? (t as TollwayFetch) : null;
  }
}
