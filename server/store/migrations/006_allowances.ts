import { columnTypes } from '../types.js';
import type { Migration } from '../migrate.js';

/** Per person, site and asset: how much may be paid without asking, per calendar period. */
export const allowances: Migration = {
  id: '006_allowances',
  up(d) {
    const t = columnTypes(d);
    return [
      `CREATE TABLE allowances (
        user_id TEXT NOT NULL REFERENCES users(id),
        site TEXT NOT NULL,
        asset TEXT NOT NULL,
        amount ${t.amount} NOT NULL,
        period TEXT NOT NULL,
        spent ${t.amount} NOT NULL,
        period_start ${t.ts} NOT NULL,
        updated_at ${t.ts} NOT NULL,
        PRIMARY KEY (user_id, site, asset)
      )`,
    ];
  },
};
