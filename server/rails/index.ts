import { ilpRail } from './ilp/module.js';
import { internalRail } from './internal/module.js';
import { lightningRail } from './lightning/module.js';
import { sovrRail } from './sovr/module.js';
import { walletRail } from './wallet/module.js';

/**
 * Every rail the hub knows, once. A rail is on when its variables say so (see each module's
 * `configure`); adding one is a folder and a line here (docs/architecture.md, "Adding a rail").
 */
export const RAIL_MODULES = [internalRail, lightningRail, sovrRail, ilpRail, walletRail] as const;

export type RailModules = typeof RAIL_MODULES;
/** Each rail's settings, by name: present when the rail is on. */
export type RailSettings = {
  [M in RailModules[number] as M['name']]?: NonNullable<ReturnType<M['configure']>>;
};
