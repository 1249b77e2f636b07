/**
 * The process side of paced-load.ts: sends `POST /payments` at a fixed rate, whatever the answers
 * (open loop), over a pool of keep-alive connections, until told to stop on stdin. One line on
 * stdout per acknowledged payment (`a <id> <epoch ms>`), one per refusal (`e <text>`), and a last
 * `done <json>` with the counts. Its own process, so that the generator never shares an event
 * loop (or a core, where there are two) with the hub it measures.
 */
import { Agent, request } from 'node:http';
import { performance } from 'node:perf_hooks';
import type { PacedLoadConfig } from './paced-load.js';

const config = JSON.parse(process.env.PACED_LOAD_CONFIG ?? '') as PacedLoadConfig;
const url = new URL(config.url);
// Node's server drops a keep-alive socket idle for 5 s; reusing one just then is a client's race
// (ECONNRESET), so idle sockets are closed well before.
const agent = new Agent({ keepAlive: true, maxSockets: config.connections, timeout: 2000, scheduling: 'lifo' });
const now = () => performance.timeOrigin + performance.now();
const out: string[] = [];
const flush = () => {
  if (out.length) process.stdout.write(`${out.splice(0).join('\n')}\n`);
};

let sent = 0;
let acked = 0;
let refused = 0;
let skipped = 0;
let outstanding = 0;
let maxOutstanding = 0;
const latencies: number[] = [];

function send(i: number): Promise<void> {
  const person = config.tokens[i % config.tokens.length]!;
  const rail = config.outsideEvery > 0 && i % config.outsideEvery === 0 ? config.outsideRail : 'internal';
  const payload = JSON.stringify({ rail, payTo: config.payTo, amount: '1', asset: 'SOVR' });
  const started = now();
  outstanding++;
  maxOutstanding = Math.max(maxOutstanding, outstanding);
  return new Promise<void>((resolve) => {
    const done = (line: string, ok: boolean) => {
      outstanding--;
      if (ok) {
        acked++;
        latencies.push(now() - started);
      } else refused++;
      out.push(line);
      resolve();
    };
    const req = request(
      {
        agent,
        host: url.hostname,
        port: url.port,
        path: '/payments',
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(payload),
          authorization: `Bearer ${person}`,
          'idempotency-key': `${config.keyPrefix}-${i}`,
        },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d) => (text += d));
        res.on('end', () => {
          const id = res.statusCode === 200 ? (JSON.parse(text) as { transactionId?: string }).transactionId : undefined;
          if (id) done(`a ${id} ${now().toFixed(1)}`, true);
          else done(`e ${i} ${res.statusCode} ${text.slice(0, 200).replace(/\s+/g, ' ')}`, false);
        });
      },
    );
    req.on('error', (err) => done(`e ${i} ${err.message}`, false));
    req.end(payload);
  });
}

const inflight = new Set<Promise<void>>();
const start = now();
let stopping = false;
// A tick every few ms sends what is due by now: the rate holds however late a tick fires.
const tick = setInterval(() => {
  const due = Math.floor(((now() - start) * config.rate) / 1000);
  while (sent + skipped < due) {
    // Past this many unanswered the hub is the limit; piling more on would only measure the queue.
    if (outstanding >= config.maxOutstanding) {
      skipped++;
      continue;
    }
    const p = send(sent++);
    inflight.add(p);
    void p.then(() => inflight.delete(p));
  }
  flush();
}, 4);
const flusher = setInterval(flush, 50);

process.stdin.on('data', () => void stop());
process.stdin.on('end', () => void stop());
process.stdout.write('ready\n');

async function stop(): Promise<void> {
  if (stopping) return;
  stopping = true;
  clearInterval(tick);
  const sendingEnded = now();
  await Promise.all(inflight);
  const cpu = process.cpuUsage();
  clearInterval(flusher);
  flush();
  latencies.sort((a, b) => a - b);
  const q = (p: number) => Math.round(latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? 0);
  const summary = {
    seconds: (sendingEnded - start) / 1000,
    offered: sent + skipped,
    sent,
    acked,
    refused,
    skipped,
    maxOutstanding,
    latencyMs: { p50: q(0.5), p99: q(0.99), max: Math.round(latencies[latencies.length - 1] ?? 0) },
    cpuShare: (cpu.user + cpu.system) / 1000 / (now() - start),
  };
  process.stdout.write(`done ${JSON.stringify(summary)}\n`);
  agent.destroy();
  process.exit(0);
}
