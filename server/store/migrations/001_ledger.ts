import type { Migration } from '../migrate.js';

// Placeholder: the ledger tables are written with the ledger (server/ledger/).
export const ledger: Migration = { id: '001_ledger', up: () => [] };
