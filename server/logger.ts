import pino, { type Logger } from 'pino';

/** Paths whose values are secrets: never written to a log line. */
export const REDACT = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["idempotency-key"]',
  'headers.authorization',
  '*.accessToken',
  '*.refreshToken',
  '*.apiKey',
  '*.webhookSecret',
  '*.signature',
  '*.token',
  'token',
  '*.macaroon',
  '*.macaroonHex',
  '*.rune',
  '*.adminKey',
  '*.invoiceKey',
  '*.lnbitsAdminKey',
  '*.lnbitsInvoiceKey',
  '*.privateKey',
  '*.serviceKey',
  '*.preimage',
];

export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino({ level, redact: { paths: REDACT, censor: '[redacted]' }, base: { service: 'tollway-hub' } }, destination);
}
export type { Logger };
