import { columnTypes } from '../types.js';
import type { Migration } from '../migrate.js';

/**
 * An allowance names the payee it was set for (shared/payee.ts), and is keyed by (user, site,
 * payee, asset): before, any script on a budgeted site could auto-pay any merchant up to it.
 *
 * Rows kept from before get the empty payee, which no payment ever names (`payTo` is never
 * empty): they stay listed, with what was spent, but auto-pay nothing until the person sets the
 * budget again for a payee (or deletes them). Guessing a payee from past payments could bind a
 * budget to a merchant the person never chose.
 *
 * SQLite cannot change a primary key in place, so it copies the table; PostgreSQL alters it.
 */
export const allowancePayee: Migration = {
  id: '012_allowance_payee',
  up(d) {
    if (d === 'postgres') {
      return [
        `ALTER TABLE allowances ADD COLUMN payee TEXT NOT NULL DEFAULT ''`,
        `ALTER TABLE allowances ALTER COLUMN payee DROP DEFAULT`,
        `ALTER TABLE allowances DROP CONSTRAINT allowances_pkey`,
        `ALTER TABLE allowances ADD PRIMARY KEY (user_id, site, payee, asset)`,
      ];
    }
    const t = columnTypes(d);
    return [
      `CREATE TABLE allowances_012 (
        user_id TEXT NOT NULL REFERENCES users(id),
        site TEXT NOT NULL,
        payee TEXT NOT NULL,
        asset TEXT NOT NULL,
        amount ${t.amount} NOT NULL,
        period TEXT NOT NULL,
        spent ${t.amount} NOT NULL,
        period_start ${t.ts} NOT NULL,
        updated_at ${t.ts} NOT NULL,
        PRIMARY KEY (user_id, site, payee, asset)
      )`,
      `INSERT INTO allowances_012 (user_id, site, payee, asset, amount, period, spent, period_start, updated_at)
        SELECT user_id, site, '', asset, amount, period, spent, period_start, updated_at FROM allowances`,
      `DROP TABLE allowances`,
      `ALTER TABLE allowances_012 RENAME TO allowances`,
    ];
  },
};
