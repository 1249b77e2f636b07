/**
 * A payment's receipt: the site and who was paid, the amount, when, what it was for, the proof
 * (transaction hash linked to the explorer, Lightning preimage, the hub's signed receipt token to
 * copy) and whether it was refunded.
 */
import type { Payment } from '../../shared/api.js';
import { localAmount, localAmountText } from '../common/format.js';
import { t } from '../common/i18n.js';
import { Icon } from '../common/icons.js';
import { displayText } from '../common/text.js';
import { siteOf } from './Activity.js';
import { CopyButton } from './Copy.js';
import { StatusChip } from './status.js';

const safeLink = (url: string | undefined) => {
  if (!url) return null;
  try {
    const u = new URL(url);
    return u.protocol === 'https:' || u.protocol === 'http:' ? u.href : null;
  } catch {
    return null;
  }
};

const when = (iso: string) => new Date(iso).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });

export function Receipt({ payment: p, onBack }: { payment: Payment; onBack: () => void }) {
  const explorer = safeLink(p.receipt.blockExplorerUrl);
  const big = localAmount(p.amount, p.asset);
  const refunded = p.refundedAmount && p.refundedAmount !== '0' ? p.refundedAmount : null;
  return (
    <main class="stack">
      <header class="cluster">
        <button type="button" class="btn-ghost btn-icon" aria-label={t('common_back')} onClick={onBack}>
          <Icon name="back" />
        </button>
        <h1>{t('receipt_title')}</h1>
      </header>
      <section class="card stack-sm" data-testid="detail">
        <p class="muted small break">{displayText(siteOf(p), 120)}</p>
        <p class={(big?.value ?? p.amount).length > 14 ? 'amount-lg' : 'amount-xl'}>
          {big ? (
            <>
              {big.value} <span class="muted">{big.unit}</span>
            </>
          ) : (
            localAmountText(p.amount, p.asset, t)
          )}
        </p>
        <p>
          <StatusChip status={p.status} testId="detail-status" />
        </p>
        {p.failureReason && <p class="callout callout-danger small">{displayText(p.failureReason, 500)}</p>}
      </section>
      <dl class="small">
        <dt>{t('receipt_payee')}</dt>
        <dd>{displayText(p.payTo, 200)}</dd>
        <dt>{t('receipt_time')}</dt>
        <dd>{when(p.createdAt)}</dd>
        {p.updatedAt !== p.createdAt && (
          <>
            <dt>{t('receipt_updated')}</dt>
            <dd>{when(p.updatedAt)}</dd>
          </>
        )}
        {p.resource && (
          <>
            <dt>{t('receipt_for')}</dt>
            <dd>
              {displayText(p.resource.method, 16)} {displayText(p.resource.url, 300)}
            </dd>
          </>
        )}
        {p.description && (
          <>
            <dt>{t('receipt_what')}</dt>
            <dd>{displayText(p.description, 500)}</dd>
          </>
        )}
        <dt>{t('receipt_rail')}</dt>
        <dd>{p.rail}</dd>
        <dt>{t('receipt_transaction')}</dt>
        <dd class="mono" data-testid="detail-id">
          {p.transactionId}
        </dd>
        {p.receipt.transactionHash && (
          <>
            <dt>{t('receipt_tx_hash')}</dt>
            <dd class="mono">
              {explorer ? (
                <a href={explorer} target="_blank" rel="noreferrer">
                  {p.receipt.transactionHash}
                </a>
              ) : (
                p.receipt.transactionHash
              )}
            </dd>
          </>
        )}
        {p.receipt.preimage && (
          <>
            <dt>{t('receipt_preimage')}</dt>
            <dd class="mono">
              {p.receipt.preimage} <CopyButton value={p.receipt.preimage} what={t('receipt_preimage')} />
            </dd>
          </>
        )}
        {p.receipt.token && (
          <>
            <dt>{t('receipt_token')}</dt>
            <dd>
              <CopyButton value={p.receipt.token} what={t('receipt_token')} testId="copy-token" />
            </dd>
          </>
        )}
        {(p.status === 'completed' || p.status === 'refunded' || refunded) && (
          <>
            <dt>{t('receipt_refund')}</dt>
            <dd data-testid="refund">
              {refunded ? t('receipt_refunded', localAmountText(refunded, p.asset, t)) : t('receipt_not_refunded')}
            </dd>
          </>
        )}
      </dl>
    </main>
  );
}
