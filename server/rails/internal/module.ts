import { defineRail } from '../module.js';
import { createInternalRail } from './index.js';

export const internalRail = defineRail({
  name: 'internal',
  summary: 'Always on: transfers between balances held at this hub.',
  env: {},
  configure: () => ({}),
  create: (parts) => createInternalRail(parts),
});
