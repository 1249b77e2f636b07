/**
 * A pass-through HTTP proxy in front of a hub (websocket upgrades included) that can hold back the
 * hub's answer to one request: the hub has done the work, the client never hears of it. It can also
 * cut the websockets (the hub's live status) for a while, so a live update never reaches the client.
 * The hub is started with TOLLWAY_PUBLIC_URL = the proxy's URL, so SIWE and receipts name the proxy.
 */
import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { connect } from 'node:net';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';

export interface HoldingProxy {
  url: string;
  /** Where to forward; set once the hub runs. */
  target: string;
  /** Every request passed on, as `METHOD /path` (query left out), in order. */
  log: string[];
  /** Resolves when the hub has answered the next `method path` request, whose answer is then dropped. */
  holdNext(method: string, path: string): Promise<{ status: number; body: string }>;
  /**
   * true: every open websocket is cut and new ones are refused until set false again, so the client
   * hears no live update (its socket.io keeps trying to reconnect meanwhile).
   */
  blockLive(on: boolean): void;
  close(): Promise<void>;
}

export async function startHoldingProxy(): Promise<HoldingProxy> {
  let hold: { method: string; path: string; resolve: (v: { status: number; body: string }) => void } | null = null;
  let liveBlocked = false;
  const upgraded = new Set<Duplex>();
  const proxy: HoldingProxy = {
    url: '',
    target: '',
    log: [],
    holdNext: (method, path) => new Promise((resolve) => (hold = { method, path, resolve })),
    blockLive(on) {
      liveBlocked = on;
      if (on) for (const s of upgraded) s.destroy();
    },
    close: () => new Promise((r) => server.close(() => r())),
  };

  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const t = new URL(proxy.target);
    proxy.log.push(`${req.method} ${req.url?.split('?')[0]}`);
    const held = hold && req.method === hold.method && req.url?.split('?')[0] === hold.path ? hold : null;
    if (held) hold = null;
    const up = httpRequest({ host: t.hostname, port: t.port, method: req.method, path: req.url, headers: req.headers }, (answer) => {
      if (!held) {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
        return;
      }
      const chunks: Buffer[] = [];
      answer.on('data', (c: Buffer) => chunks.push(c));
      // Never answered: the client waits until it gives up or is stopped.
      answer.on('end', () => held.resolve({ status: answer.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
    });
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  server.on('upgrade', (req: IncomingMessage, socket, head) => {
    if (liveBlocked) {
      socket.destroy();
      return;
    }
    upgraded.add(socket);
    socket.on('close', () => upgraded.delete(socket));
    const t = new URL(proxy.target);
    const up = connect(Number(t.port), t.hostname, () => {
      up.write(
        `${req.method} ${req.url} HTTP/1.1\r\n${Object.entries(req.headers)
          .map(([k, v]) => `${k}: ${String(v)}`)
          .join('\r\n')}\r\n\r\n`,
      );
      up.write(head);
      up.pipe(socket);
      socket.pipe(up);
    });
    up.on('error', () => socket.destroy());
    socket.on('error', () => up.destroy());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  proxy.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return proxy;
}
