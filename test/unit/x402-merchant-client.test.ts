/**
 * The merchant kit's facilitator client over real HTTP against a small server that answers as
 * facilitators do (and as broken ones do), and the paywall's `facilitator` option checks.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { facilitatorClient, FacilitatorUnavailableError } from '../../merchant/facilitator.js';
import { paywall } from '../../merchant/index.js';
import { freePort } from '../helpers/hub.js';

interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
}
let server: Server;
let base: string;
const seen: Seen[] = [];
/** path → [status, content type, body] */
const answers = new Map<string, [number, string, string]>();

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString('utf8')));
    req.on('end', () => {
      seen.push({ method: req.method!, url: req.url!, headers: req.headers, body });
      const [status, type, text] = answers.get(req.url!) ?? [404, 'text/plain', 'no'];
      res.writeHead(status, { 'content-type': type }).end(text);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/x402`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

const payload = { x402Version: 2, accepted: { scheme: 'exact' }, payload: { signature: '0x01' } };
const requirements = { scheme: 'exact', network: 'eip155:31337' };

describe('facilitatorClient', () => {
  it('POSTs {x402Version, paymentPayload, paymentRequirements} as JSON to <url>/verify and <url>/settle', async () => {
    answers.set('/x402/verify', [200, 'application/json', JSON.stringify({ isValid: true, payer: '0xabc' })]);
    answers.set('/x402/settle', [
      200,
      'application/json',
      JSON.stringify({ success: true, payer: '0xabc', transaction: '0x12', network: 'eip155:31337' }),
    ]);
    const f = facilitatorClient(`${base}/`);
    expect(f.url).toBe(base);
    expect(await f.verify(payload, requirements)).toEqual({ isValid: true, payer: '0xabc' });
    expect(await f.settle(payload, requirements)).toEqual({ success: true, payer: '0xabc', transaction: '0x12', network: 'eip155:31337' });
    const [v, s] = seen.slice(-2);
    for (const call of [v!, s!]) {
      expect(call.method).toBe('POST');
      expect(call.headers['content-type']).toBe('application/json');
      expect(JSON.parse(call.body)).toEqual({ x402Version: 2, paymentPayload: payload, paymentRequirements: requirements });
    }
    expect([v!.url, s!.url]).toEqual(['/x402/verify', '/x402/settle']);
  });

  it('GETs <url>/supported, with the per-call headers a facilitator may want', async () => {
    answers.set('/x402/supported', [
      200,
      'application/json',
      JSON.stringify({ kinds: [{ x402Version: 2, scheme: 'exact', network: 'eip155:31337' }], extensions: [], signers: {} }),
    ]);
    const f = facilitatorClient({ url: base, headers: (op) => ({ authorization: `Bearer key-for-${op}` }) });
    expect((await f.supported()).kinds).toEqual([{ x402Version: 2, scheme: 'exact', network: 'eip155:31337' }]);
    expect(seen.at(-1)).toMatchObject({ method: 'GET', url: '/x402/supported', headers: { authorization: 'Bearer key-for-supported' } });
  });

  it('takes a refusal sent with a 4xx status as the answer it is', async () => {
    answers.set('/x402/verify', [
      400,
      'application/json',
      JSON.stringify({ isValid: false, invalidReason: 'invalid_exact_evm_payload_signature', payer: null }),
    ]);
    expect(await facilitatorClient(base).verify(payload, requirements)).toEqual({
      isValid: false,
      invalidReason: 'invalid_exact_evm_payload_signature',
    });
  });

  it('throws FacilitatorUnavailableError for what is not an answer', async () => {
    answers.set('/x402/verify', [500, 'text/html', '<h1>oops</h1>']);
    answers.set('/x402/settle', [400, 'application/problem+json', JSON.stringify({ type: 'x', title: 'bad', status: 400 })]);
    const f = facilitatorClient(base);
    await expect(f.verify(payload, requirements)).rejects.toMatchObject({ name: 'FacilitatorUnavailableError', status: 500 });
    await expect(f.settle(payload, requirements)).rejects.toMatchObject({ name: 'FacilitatorUnavailableError', status: 400 });
    answers.delete('/x402/supported');
    await expect(f.supported()).rejects.toBeInstanceOf(FacilitatorUnavailableError);
    const nobody = facilitatorClient(`http://127.0.0.1:${await freePort()}/x402`);
    await expect(nobody.verify(payload, requirements)).rejects.toThrow(/could not be reached/);
  });

  it('refuses a URL that is not http(s)', () => {
    expect(() => facilitatorClient('ftp://hub.example/x402')).toThrow(TypeError);
    expect(() => facilitatorClient('not a url')).toThrow(TypeError);
  });
});

describe('paywall facilitator option', () => {
  const base = { hub: 'http://127.0.0.1:8402', merchantId: 'm_1', price: '1000', asset: 'SOVR' };
  const chain = { chainId: 31337, tokenAddress: '0x5FbDB2315678afecb367f032d93F642f64180aa3' };
  const payoutAddress = '0x70997970C51812dc3A010C7d01b50e0d17dc79C8';
  it('needs the exact entry it settles', () => {
    expect(() => paywall({ ...base, facilitator: 'http://127.0.0.1:8402/x402' })).toThrow(/payoutAddress and chain/);
    expect(() => paywall({ ...base, payoutAddress, chain, facilitator: 'nope' })).toThrow(/facilitator must be/);
    expect(paywall({ ...base, payoutAddress, chain, facilitator: 'http://127.0.0.1:8402/x402' }).tollway.schemes).toEqual([
      'tollway',
      'exact',
    ]);
  });
});
