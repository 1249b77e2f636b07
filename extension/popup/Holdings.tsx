/**
 * What the person holds: slots bought at sites' slots APIs (kept in `local` by the worker,
 * background/holdings.ts) and access passes (receipts shown again for a while, in `session`). Each
 * says what it is for, when it ends (relative and absolute, in the browser's locale) and whether it
 * is active, expires soon or has expired. A slot has Renew: the worker pays for a month's token
 * through the approval window (or the site's budget) and spends it on the slot; the new expiry then
 * shows here. Loaded only when opened, so the popup's first paint does not carry it.
 */
import { useEffect, useState } from 'preact/hooks';
import { absoluteTime, expiryState, passEnds, readHoldings, relativeTime, type ExpiryState, type Holding } from '../common/holdings.js';
import { lightningAmount } from '../common/format.js';
import { t } from '../common/i18n.js';
import { send, useStoredValue } from '../common/page.js';
import { KEYS, Passes, type Pass } from '../common/state.js';
import { displayText } from '../common/text.js';

const CHIP: Record<ExpiryState, string> = { active: 'chip chip-ok', soon: 'chip chip-warn', expired: 'chip chip-danger' };

function stateText(s: ExpiryState): string {
  return s === 'active' ? t('holdings_state_active') : s === 'soon' ? t('holdings_state_soon') : t('holdings_state_expired');
}

function Expiry({ at, now, locale }: { at: number; now: number; locale: string }) {
  const state = expiryState(at, now);
  return (
    <span class="cluster tiny">
      <span class={CHIP[state]} data-testid="holding-state" data-state={state}>
        {stateText(state)}
      </span>
      <time dateTime={new Date(at).toISOString()} data-testid="holding-expiry">
        {t(state === 'expired' ? 'holdings_expired_at' : 'holdings_expires_at', relativeTime(at, now, locale), absoluteTime(at, locale))}
      </time>
    </span>
  );
}

const pathOf = (url: string) => {
  try {
    const u = new URL(url);
    return `${u.host}${u.pathname}`;
  } catch {
    return url;
  }
};

export function Holdings({ onBack }: { onBack: () => void }) {
  const slots = readHoldings(useStoredValue(KEYS.holdings));
  const passes = (Passes.safeParse(useStoredValue(KEYS.passes, 'session')).data ?? []).filter((p) => !p.spent);
  const [now, setNow] = useState(Date.now());
  const [status, setStatus] = useState<string | null>(null);
  const locale = chrome.i18n.getUILanguage();

  useEffect(() => {
    void send({ type: 'holdings.refresh' });
    const tick = setInterval(() => setNow(Date.now()), 30_000);
    return () => clearInterval(tick);
  }, []);

  const renew = async (h: Holding) => {
    setStatus(t('holdings_renewing', h.slotId));
    const r = await send({ type: 'holdings.renew', key: h.key });
    setStatus(r.ok ? null : r.error);
  };

  return (
    <main class="stack">
      <h1>{t('holdings_title')}</h1>
      <section class="stack-sm" aria-labelledby="slots-heading">
        <h2 id="slots-heading">{t('holdings_slots')}</h2>
        {slots.length === 0 ? (
          <p class="small muted" data-testid="holdings-none">
            {t('holdings_slots_none')}
          </p>
        ) : (
          <ul class="list card">
            {slots.map((h) => (
              <li key={h.key} class="stack-sm" data-testid="holding" data-slot={h.slotId} data-site={h.site}>
                <span class="spread">
                  <strong>{t('holdings_slot', h.slotId)}</strong>
                  <button
                    type="button"
                    class="btn-sm"
                    disabled={h.renewal?.status === 'waiting' && !h.renewal.error}
                    aria-label={t('holdings_renew_label', h.slotId, pathOf(h.site))}
                    onClick={() => void renew(h)}
                  >
                    {t('holdings_renew')}
                  </button>
                </span>
                <span class="small ellipsis" title={h.page}>
                  {displayText(h.title || pathOf(h.page), 120)} · {displayText(pathOf(h.page), 120)}
                </span>
                <Expiry at={h.expiresAt} now={now} locale={locale} />
                <span class="tiny muted">{t('holdings_fee_rate', lightningAmount(h.feeRatePerMonthMsat, t, locale))}</span>
                {h.renewal?.status === 'waiting' && (
                  <span class="tiny" role="status" data-testid="holding-renewal">
                    {h.renewal.error ? t('holdings_renewal_retrying', h.renewal.error) : t('holdings_renewal_waiting')}
                  </span>
                )}
                {h.renewal?.status === 'failed' && (
                  <span class="tiny failed" role="alert" data-testid="holding-renewal">
                    {t('holdings_renewal_failed', h.renewal.error ?? '')}
                  </span>
                )}
                {h.renewed && !h.renewal && (
                  <span class="tiny muted" data-testid="holding-renewed">
                    {t('holdings_renewed', absoluteTime(h.renewed.from, locale), absoluteTime(h.renewed.to, locale))}
                  </span>
                )}
              </li>
            ))}
          </ul>
        )}
      </section>
      <section class="stack-sm" aria-labelledby="passes-heading">
        <h2 id="passes-heading">{t('holdings_passes')}</h2>
        {passes.length === 0 ? (
          <p class="small muted">{t('holdings_passes_none')}</p>
        ) : (
          <ul class="list card">
            {passes.map((p: Pass) => {
              const ends = passEnds(p);
              // An ended pass is renewed by opening its page: the site asks again, through the
              // approval window or its budget, like any other payment.
              const renewable = ends <= now && p.method === 'GET';
              return (
                <li key={p.transactionId} class="stack-sm" data-testid="pass">
                  <span class="spread">
                    <span class="small ellipsis" title={p.url}>
                      {p.method} {displayText(pathOf(p.url), 120)}
                    </span>
                    {renewable && (
                      <button
                        type="button"
                        class="btn-sm"
                        aria-label={t('holdings_pass_renew_label', pathOf(p.url))}
                        onClick={() => void chrome.tabs.create({ url: p.url })}
                      >
                        {t('holdings_renew')}
                      </button>
                    )}
                  </span>
                  <Expiry at={ends} now={now} locale={locale} />
                </li>
              );
            })}
          </ul>
        )}
        <p class="tiny muted">{t('holdings_passes_note')}</p>
      </section>
      {status && (
        <p role="status" class="small" data-testid="holdings-status">
          {status}
        </p>
      )}
      <div class="actions">
        <button type="button" onClick={onBack}>
          {t('common_back')}
        </button>
      </div>
    </main>
  );
}
