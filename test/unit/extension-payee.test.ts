/**
 * Who is paid and how merchant text is shown: the payee a budget is bound to (a Lightning invoice's
 * signer recovered exactly as the hub's decoder does; addresses in one case), and the one function
 * every merchant- or page-chosen string goes through before the person reads it.
 */
import { tEn } from '../helpers/i18n-en.js';
import { randomBytes } from 'node:crypto';
import bolt11 from 'bolt11';
import { describe, expect, it } from 'vitest';
import { lightningPayee, payeeOf } from '../../extension/background/payee.js';
import { payeeText } from '../../extension/approve/payee-text.js';
import { displayText } from '../../extension/common/text.js';
import { canonicalPayee } from '../../shared/payee.js';
import { makeInvoice } from '../../devnet/lnd.js';
import { request, tollwayOption, x402Challenge } from '../helpers/extension-fixtures.js';

describe('displayText', () => {
  it('removes bidirectional controls, so text cannot be made to read backwards', () => {
    // "Pay shop" with a right-to-left override hiding "evil" reversed, and every bidi control there is.
    const bidi = ['\u202a', '\u202b', '\u202c', '\u202d', '\u202e', '\u2066', '\u2067', '\u2068', '\u2069', '\u200e', '\u200f', '\u061c'];
    expect(displayText(`Pay shop\u202elive\u202c`)).toBe('Pay shoplive');
    for (const c of bidi) expect(displayText(`a${c}b`), `U+${c.charCodeAt(0).toString(16)}`).toBe('ab');
  });

  it('removes zero-width and invisible characters, and turns controls and line breaks into one space', () => {
    expect(displayText('sh\u200bo\u200cp\u200d\u2060\ufeff')).toBe('shop');
    expect(displayText('a\u0000b\u0007c\u001bd\u007fe\u0085f\u009fg')).toBe('a b c d e f g');
    expect(displayText('line one\r\n\tline two\u2028three\u2029four')).toBe('line one line two three four');
    expect(displayText('tag\u{e0041}\u{e007f}s')).toBe('tags');
    expect(displayText('  padded   out  ')).toBe('padded out');
  });

  it('keeps ordinary text of any script as it is', () => {
    for (const s of ['Article: how to pay', 'Café crème — 2 €', 'مقالة', '記事を読む', 'emoji 🧾 ok']) expect(displayText(s)).toBe(s);
  });

  it('cuts long text with an ellipsis, never inside a surrogate pair', () => {
    expect(displayText('x'.repeat(50), 10)).toBe(`${'x'.repeat(9)}…`);
    expect(displayText('x'.repeat(10), 10)).toBe('x'.repeat(10));
    expect(displayText(`${'x'.repeat(8)}🧾🧾`, 10)).toBe(`${'x'.repeat(8)}…`);
    expect(displayText('a'.repeat(1000)).length).toBe(200);
  });

  it('shows nothing for nothing', () => {
    expect(displayText(undefined)).toBe('');
    expect(displayText(null)).toBe('');
    expect(displayText('\u202e\u200b')).toBe('');
  });
});

describe('the payee of a Lightning invoice', () => {
  it('is the node that signed it, the same key the hub’s decoder reads', () => {
    for (let i = 0; i < 20; i++) {
      const inv = makeInvoice({ valueMsat: BigInt(1000 + i), nodeKey: randomBytes(32), memo: 'm'.repeat(i * 13) });
      const key = lightningPayee(inv.paymentRequest);
      expect(key).toBe(bolt11.decode(inv.paymentRequest).payeeNodeKey);
      expect(key).toMatch(/^0[23][0-9a-f]{64}$/);
      // Upper case is the same invoice.
      expect(lightningPayee(inv.paymentRequest.toUpperCase())).toBe(key);
    }
  });

  it('stays the same from one invoice of a node to the next', () => {
    const node = randomBytes(32);
    expect(lightningPayee(makeInvoice({ valueMsat: 1000n, nodeKey: node }).paymentRequest)).toBe(
      lightningPayee(makeInvoice({ valueMsat: 5000n, nodeKey: node }).paymentRequest),
    );
  });

  it('is nobody for text that is not a signed invoice (a broken checksum, mixed case, garbage)', () => {
    const inv = makeInvoice({ valueMsat: 1000n }).paymentRequest;
    const flipped = inv.slice(0, -1) + (inv.endsWith('q') ? 'p' : 'q');
    for (const bad of [
      flipped,
      inv.slice(0, 20) + inv.slice(20).toUpperCase(),
      'lnbcrt15u1pjqqqqqpp5qqqqqqqqqqqqqqqqqqqqqqqqqq',
      '',
      'not an invoice',
      `x${inv}`,
    ]) {
      expect(lightningPayee(bad), bad.slice(0, 30)).toBeNull();
    }
  });

  it('payeeOf: the merchant id for the hub, the lower-case address on chain, the node for Lightning', () => {
    const inv = makeInvoice({ valueMsat: 1000n });
    expect(payeeOf({ rail: 'internal', payTo: 'm_Shop' })).toBe('m_Shop');
    expect(payeeOf({ rail: 'sovr', payTo: '0xAbCdEf0123456789aBcDeF0123456789ABCDEF01' })).toBe(
      '0xabcdef0123456789abcdef0123456789abcdef01',
    );
    expect(payeeOf({ rail: 'lightning', payTo: inv.paymentRequest })).toBe(bolt11.decode(inv.paymentRequest).payeeNodeKey);
    expect(canonicalPayee('02' + 'AB'.repeat(32))).toBe('02' + 'ab'.repeat(32));
  });
});

describe('who the window says is paid', () => {
  it('names the payee for every rail, through displayText', () => {
    expect(payeeText(request(), tEn)).toBe('Hub merchant m_shop');
    expect(
      payeeText(
        request({ payment: { rail: 'lightning', payTo: 'lnbc1…', amount: '1000', asset: 'BTC' }, payee: '02' + 'ab'.repeat(32) }),
        tEn,
      ),
    ).toBe(`Lightning node 02${'ab'.repeat(32)}`);
    expect(payeeText(request({ payment: { rail: 'lightning', payTo: 'lnbc1…', amount: '1000', asset: 'BTC' }, payee: null }), tEn)).toBe(
      'Lightning invoice (its node could not be read)',
    );
    expect(
      payeeText(request({ payment: null, unpayable: 'x', challenge: x402Challenge([tollwayOption({ payTo: 'm_\u202eevil' })]) }), tEn),
    ).toBe('m_evil');
    expect(
      payeeText(
        request({
          payment: null,
          unpayable: 'x',
          challenge: {
            x402: null,
            l402: { kind: 'l402', scheme: 'L402', macaroon: 'm', invoice: 'lnbc1', amountMsat: null },
            problems: [],
          },
        }),
        tEn,
      ),
    ).toBe('Lightning invoice');
    expect(payeeText(request({ payment: { rail: 'internal', payTo: 'm_\u202eshop\u200b', amount: '1', asset: 'SOVR' } }), tEn)).toBe(
      'Hub merchant m_shop',
    );
  });
});
