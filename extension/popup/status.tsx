/** A payment's status as a chip: pending spins, completed is green, failed red, refunded amber. */
import type { PaymentStatus } from '../../shared/api.js';
import { t } from '../common/i18n.js';

const TONE: Record<PaymentStatus, string> = {
  pending: 'chip-pending',
  submitted: 'chip-info',
  completed: 'chip-ok',
  failed: 'chip-danger',
  refunded: 'chip-warn',
};

export function StatusChip({ status, testId }: { status: PaymentStatus; testId?: string }) {
  return (
    <span class={`chip ${TONE[status]}`}>
      {(status === 'pending' || status === 'submitted') && <span class="spinner" aria-hidden="true" />}
      <span data-testid={testId}>{t(`status_${status}`)}</span>
    </span>
  );
}
