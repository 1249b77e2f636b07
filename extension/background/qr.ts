/** The QR encoder lives in shared/ since the page snippet draws invoices too; the worker's imports stay as they were. */
export * from '../../shared/qr.js';
