import type { Writable } from 'node:stream';
import type { z } from 'zod';
import type { Payment, Rail as RailName } from '../../shared/api.js';
import type { Clock } from '../clock.js';
import type { AccountDirectory } from '../core/accounts.js';
import type { Ledger } from '../ledger/types.js';
import type { Logger } from '../logger.js';
import type { Db } from '../store/types.js';
import type { Rail, RailOutcome } from './types.js';

/** What every rail is built from. Rails know nothing of HTTP: they get the ledger and a way to report. */
export interface RailParts {
  db: Db;
  accounts: AccountDirectory;
  ledger: Ledger;
  clock: Clock;
  logger: Logger;
  /** Records an outcome a rail learnt after execute or resume returned (confirmations, settlements). */
  report(paymentId: string, outcome: RailOutcome): Promise<Payment>;
  /** Says that the rail committed an outbox event itself (a top-up credited), so it goes out now. */
  eventWritten(): void;
  /** Background work the hub waits for on close; `signal` aborts when the hub closes. */
  spawn(name: string, work: (signal: AbortSignal) => Promise<void>): void;
  signal: AbortSignal;
  /** The origin people reach the hub at (TOLLWAY_PUBLIC_URL): where outside parties send people back. */
  publicUrl: string;
}

/**
 * A rail as the hub sees it before it exists: a name, the environment variables that configure it
 * (each described: docs/configuration.md is generated from them), how those variables become its
 * settings, and how it is built. The registry (index.ts) lists every module once; the hub builds the
 * ones whose settings come back defined.
 */
export interface RailModule<Name extends RailName = RailName, Shape extends z.ZodRawShape = z.ZodRawShape, Settings = unknown> {
  readonly name: Name;
  /** One line for docs/configuration.md: what turns the rail on. */
  readonly summary: string;
  readonly env: Shape;
  /**
   * The rail's settings from its parsed variables; undefined when the rail is off. A half-given
   * configuration stops the hub (`fail()` from env.ts names the variable).
   */
  configure(env: z.infer<z.ZodObject<Shape>>): Settings | undefined;
  create(parts: RailParts, settings: Settings): Rail;
  /** One line for the start-up banner: where the rail points, never a secret. */
  describeSettings?(settings: Settings): string;
  /** `hub doctor`: checks what the rail depends on (a node, a chain); resolves false when it fails. */
  doctor?(settings: Settings, out: Writable): Promise<boolean>;
}

/** Keeps each module's own settings type while the registry holds them side by side. */
export const defineRail = <Name extends RailName, Shape extends z.ZodRawShape, Settings>(
  m: RailModule<Name, Shape, Settings>,
): RailModule<Name, Shape, Settings> => m;
