/**
 * For the slots tests: the shop's stand-in LND and an "outside wallet" on one simulated network, a
 * fresh store of either engine (a temp SQLite file, or a PostgreSQL schema of its own), and a shop
 * with slots() mounted at /slots and a route behind requireSlot().
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import express from 'express';
import pg from 'pg';
import { createLndNode } from '../../lightning/lnd/index.js';
import type { LightningNode } from '../../lightning/node.js';
import { openSlotStore, type SlotStore, slots, type SlotsHandler, type SlotsOptions } from '../../merchant/index.js';
import { createSimulatedNetwork } from '../../devnet/lightning-network.js';
import { startFakeLnd, type FakeLnd } from '../../devnet/lnd.js';
import { type Engine, PG_URL } from './stores.js';

export interface SlotsWorld {
  shopLnd: FakeLnd;
  /** The shop's own node, as the kit sees it. */
  node: LightningNode;
  /** Someone's own wallet elsewhere on the same network. */
  outside: LightningNode;
  close(): Promise<void>;
}

export async function slotsWorld(): Promise<SlotsWorld> {
  const net = createSimulatedNetwork();
  const shopLnd = await startFakeLnd({ lightningNetwork: net });
  const outsideLnd = await startFakeLnd({ lightningNetwork: net });
  return {
    shopLnd,
    node: createLndNode({ url: shopLnd.url, macaroonHex: shopLnd.macaroonHex }),
    outside: createLndNode({ url: outsideLnd.url, macaroonHex: outsideLnd.macaroonHex }),
    async close() {
      await shopLnd.close();
      await outsideLnd.close();
    },
  };
}

export interface FreshSlotStore {
  /** What `store` takes: a SQLite path or a postgres:// URL. */
  target: string;
  store: SlotStore;
  /** Runs SQL against the store's database (counts, snapshots). */
  query<T>(sql: string): Promise<T[]>;
  cleanup(): Promise<void>;
}

let counter = 0;

export async function freshSlotStore(engine: Engine): Promise<FreshSlotStore> {
  if (engine === 'sqlite') {
    const dir = mkdtempSync(join(tmpdir(), 'tollway-slots-'));
    const target = join(dir, 'slots.sqlite');
    const store = openSlotStore(target);
    await store.slot(1); // creates the tables, so that queries can run before the shop's first request
    const { default: Database } = await import('better-sqlite3');
    return {
      target,
      store,
      async query<T>(sql: string) {
        const db = new Database(target, { readonly: true });
        try {
          return db.prepare(sql).all() as T[];
        } finally {
          db.close();
        }
      },
      async cleanup() {
        await store.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  }
  const schema = `slots_${process.pid}_${Date.now().toString(36)}_${++counter}`;
  const admin = new pg.Client({ connectionString: PG_URL });
  await admin.connect();
  await admin.query(`CREATE SCHEMA "${schema}"`);
  await admin.query(`SET search_path TO "${schema}"`);
  const url = new URL(PG_URL);
  url.searchParams.set('options', `-c search_path=${schema}`);
  const target = url.toString();
  const store = openSlotStore(target);
  await store.slot(1);
  return {
    target,
    store,
    async query<T>(sql: string) {
      return (await admin.query(sql)).rows as T[];
    },
    async cleanup() {
      await store.close();
      await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await admin.end();
    },
  };
}

export interface SlotsShop {
  url: string;
  api: SlotsHandler;
  close(): Promise<void>;
}

/**
 * slots() at /slots, `POST /publish` behind requireSlot(), `GET /join` a page with `page` in its
 * body, and `snippet` (the bundled tollway.js) at `/tollway.js`.
 */
export async function startSlotsShop(opts: SlotsOptions & { page?: string; snippet?: string }): Promise<SlotsShop> {
  const { page, snippet, ...options } = opts;
  const app = express();
  const api = slots(options);
  app.use('/slots', api);
  app.post('/publish', api.requireSlot(), (_req, res) => {
    res.json({ published: true, slot: res.locals.slot });
  });
  app.get('/tollway.js', (_req, res) => {
    res.type('text/javascript').send(snippet ?? '');
  });
  app.get('/join', (_req, res) => {
    res
      .type('html')
      .send(`<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Join</title></head><body>${page ?? ''}</body></html>`);
  });
  const server: Server = createServer(app);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    api,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
