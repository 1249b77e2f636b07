/**
 * The idle clients of the live-status benchmark (bench/live.ts), in a process of their own: their
 * sockets, heartbeats and timers then do not run on the event loop that timestamps the measured
 * events. Driven over IPC: `{ connect: { url, tokens } }` answers `{ connected }` (how many it
 * connected) once every socket is up, or `{ error }`, `{ disconnect: true }` answers `{ disconnected }`.
 */
import { io, type Socket } from 'socket.io-client';

const sockets: Socket[] = [];

function connectOne(url: string, token: string): Promise<Socket> {
  const socket = io(url, { auth: { token }, transports: ['websocket'], reconnection: false, forceNew: true });
  return new Promise((resolve, reject) => {
    socket.once('connect', () => resolve(socket));
    socket.once('connect_error', reject);
  });
}

async function connectAll(url: string, tokens: string[]): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(32, tokens.length) }, async () => {
      while (next < tokens.length) sockets.push(await connectOne(url, tokens[next++]!));
    }),
  );
}

process.on('message', (m: { connect?: { url: string; tokens: string[] }; disconnect?: boolean }) => {
  if (m.connect) {
    const before = sockets.length;
    connectAll(m.connect.url, m.connect.tokens).then(
      () => process.send?.({ connected: sockets.length - before }),
      (err: Error) => process.send?.({ error: err.message }),
    );
  } else if (m.disconnect) {
    for (const s of sockets.splice(0)) s.disconnect();
    process.send?.({ disconnected: true });
  }
});
process.send?.({ ready: true });
