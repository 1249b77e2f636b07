/**
 * The hub's command line.
 *   tsx server/main.ts            run the hub, configured from the environment
 *   tsx server/main.ts doctor     check the ledger invariant and exit non-zero if it fails
 *   tsx server/main.ts dev        run the hub in dev mode with a generated admin token (npm start)
 *   tsx server/main.ts dev-pay <bolt11>
 *                                 pay an invoice from `npm start`'s outside wallet (local Lightning only)
 *   tsx server/main.ts backup <file>
 *                                 a consistent copy of the SQLite database, while the hub runs
 *   tsx server/main.ts restore <file>
 *                                 put a backup in place (refused while anything has the database open)
 */
import { randomBytes } from 'node:crypto';
import type { Config } from './config.js';
import { runDevPay } from './dev-pay.js';
import type { RAIL_MODULES } from './rails/index.js';

/** One banner line per optional rail: where it points when on (never a secret), `off` otherwise. */
function railLines(config: Config, rails: typeof RAIL_MODULES): string[] {
  return rails.flatMap((m) => {
    if (!m.describeSettings) return [];
    const settings = (config.rails as Record<string, unknown>)[m.name];
    const line = settings === undefined ? 'off (see docs/configuration.md)' : (m.describeSettings as (s: unknown) => string)(settings);
    return [`  ${`${m.name} rail`.padEnd(15)} ${line}`];
  });
}

async function main(argv: string[]): Promise<number> {
  const command = argv[0] ?? 'hub';
  const env = { ...process.env };
  // Needs no hub configuration: it talks to the local network's outside wallet, not to a hub.
  if (command === 'dev-pay') return runDevPay(argv.slice(1), env, process.stdout, process.stderr);
  // Loaded only now, so that dev-pay starts without the whole hub.
  const [{ startHub }, { ConfigError, loadConfig }, { runDoctor }, { createLogger }, { RAIL_MODULES }] = await Promise.all([
    import('./app.js'),
    import('./config.js'),
    import('./doctor.js'),
    import('./logger.js'),
    import('./rails/index.js'),
  ]);
  if (command === 'dev') {
    env.TOLLWAY_DEV ??= '1';
    env.TOLLWAY_ADMIN_TOKEN ??= generatedAdminToken();
  }
  let config: Config;
  try {
    config = loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`tollway: ${err.message}\n`);
      return 2;
    }
    throw err;
  }

  if (command === 'doctor') return runDoctor(config, process.stdout);
  if (command === 'backup' || command === 'restore') {
    const ops = await import('./ops/commands.js');
    return (command === 'backup' ? ops.runBackup : ops.runRestore)(config, argv.slice(1), process.stdout, process.stderr);
  }
  if (command !== 'hub' && command !== 'dev') {
    process.stderr.write(`tollway: unknown command ${JSON.stringify(command)} (hub | dev | doctor | dev-pay | backup | restore)\n`);
    return 2;
  }

  const logger = createLogger(config.logLevel);
  const hub = await startHub({ config, logger });
  if (command === 'dev') {
    process.stdout.write(
      [
        '',
        `  Tollway hub (dev mode) on ${hub.url}`,
        `  public URL      ${config.publicUrl}`,
        `  storage         ${config.databaseUrl ? 'PostgreSQL' : `SQLite in ${config.dataDir}`}`,
        ...railLines(config, RAIL_MODULES),
        `  events          ${config.events ? `${config.events.servers}, stream ${config.events.stream}, subjects ${config.events.subjectPrefix}.>` : 'off (TOLLWAY_EVENTS_URL)'}`,
        `  admin token     ${process.env.TOLLWAY_ADMIN_TOKEN ? '(from TOLLWAY_ADMIN_TOKEN)' : env.TOLLWAY_ADMIN_TOKEN}`,
        `  API description ${hub.url}/openapi.json`,
        '',
      ].join('\n') + '\n',
    );
  }
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  logger.info('shutting down');
  await hub.close();
  return 0;
}

function generatedAdminToken(): string {
  return `tw_admin_${randomBytes(18).toString('base64url')}`;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`tollway: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
