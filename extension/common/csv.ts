/** Receipts as CSV for export. */
import type { Payment } from '../../shared/api.js';

/** Escapes one CSV field (RFC 4180), defusing spreadsheet formulas in text that came from sites. */
function csvField(v: string): string {
  const safe = /^[=+\-@\t\r]/.test(v) ? `'${v}` : v;
  return /[",\r\n]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}

export const CSV_COLUMNS = [
  'transactionId',
  'createdAt',
  'updatedAt',
  'status',
  'amount',
  'asset',
  'rail',
  'payTo',
  'method',
  'resource',
  'description',
  'transactionHash',
  'blockExplorerUrl',
  'failureReason',
] as const;

/** The payments as CSV; amounts in base units, exactly as the hub stores them. */
export function paymentsCsv(payments: readonly Payment[]): string {
  const rows = payments.map((p) =>
    [
      p.transactionId,
      p.createdAt,
      p.updatedAt,
      p.status,
      p.amount,
      p.asset,
      p.rail,
      p.payTo,
      p.resource?.method ?? '',
      p.resource?.url ?? '',
      p.description ?? '',
      p.receipt.transactionHash ?? '',
      p.receipt.blockExplorerUrl ?? '',
      p.failureReason ?? '',
    ]
      .map(csvField)
      .join(','),
  );
  return [CSV_COLUMNS.join(','), ...rows].join('\r\n') + '\r\n';
}
