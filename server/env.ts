import { readFileSync } from 'node:fs';
import { z } from 'zod';

/**
 * Building blocks for environment schemas: the hub's (config.ts) and each rail's. Every variable is
 * `.describe()`d where it is declared; docs/configuration.md is generated from those descriptions.
 */
export class ConfigError extends Error {}

export const flag = z.enum(['0', '1', 'true', 'false', 'yes', 'no', '']).transform((v) => v === '1' || v === 'true' || v === 'yes');
export const seconds = (def: number) => z.coerce.number().int().positive().default(def);
export const evmAddress = z.string().regex(/^0x[0-9a-fA-F]{40}$/, 'must be a 0x address');

/** Stops start-up with a message that names the variable. */
export function fail(variable: string, message: string): never {
  throw new ConfigError(`invalid configuration:\n  ${variable}: ${message}`);
}

export function readConfigFile(variable: string, path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    return fail(variable, `cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

/** Defines a property that JSON.stringify, logs and Object.keys do not see: for secrets in config objects. */
export function hideSecret<T extends object, K extends string, V>(target: T, key: K, value: V): T & { readonly [P in K]: V } {
  Object.defineProperty(target, key, { value, enumerable: false });
  return target as T & { readonly [P in K]: V };
}
