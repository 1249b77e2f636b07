/**
 * The person's networks and tokens, the parts the settings page and the approval window rest on:
 * the add-network and add-token forms (validation with the words the page shows), the daily limit
 * typed in token units and stored in base units exactly (bigint, never a JS number), the balance
 * read over real HTTP from a JSON-RPC endpoint and decoded as a bigint, the worker's "Enable USDC on
 * Base" (only a listed token, and only that one), and how the window words an entry's amount.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { balanceOfData, decodeUint256, tokenBalance } from '../../extension/background/evm-balance.js';
import { createNetworks } from '../../extension/background/networks.js';
import { evmAmount, evmAmountOn, tokenOn } from '../../extension/approve/evm-text.js';
import { DEFAULT_NETWORKS, type EvmExactPlan, NETWORKS_KEY, readNetworks } from '../../extension/common/networks.js';
import { KEYS } from '../../extension/common/state.js';
import { dailyLimitText, readDailyLimit, readNetworkForm, readRpcUrl, readTokenForm } from '../../extension/onboarding/network-form.js';
import { tEn } from '../helpers/i18n-en.js';
import { MemoryStorage } from '../helpers/memory-storage.js';

const BASE_USDC = '0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913';
const OWNER = '0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC';
const TOKEN = '0x5FbDB2315678afecb367f032d93F642f64180aa3';

describe('the daily limit field', () => {
  it('stores token units as exact base units', () => {
    expect(readDailyLimit('25.5', 6, tEn)).toEqual({ ok: true, value: '25500000' });
    expect(readDailyLimit(' 0.000001 ', 6, tEn)).toEqual({ ok: true, value: '1' });
    expect(readDailyLimit('.5', 6, tEn)).toEqual({ ok: true, value: '500000' });
    expect(readDailyLimit('7', 0, tEn)).toEqual({ ok: true, value: '7' });
    // Past 2^53 and with 18 decimals: a JS number would round both.
    expect(readDailyLimit('123456789012345678901234567890.123456789012345678', 18, tEn)).toEqual({
      ok: true,
      value: '123456789012345678901234567890123456789012345678',
    });
    expect(readDailyLimit('9007199254740993', 6, tEn)).toEqual({ ok: true, value: '9007199254740993000000' });
  });

  it('is empty for no limit', () => {
    expect(readDailyLimit('', 6, tEn)).toEqual({ ok: true, value: undefined });
    expect(readDailyLimit('   ', 6, tEn)).toEqual({ ok: true, value: undefined });
  });

  it('refuses more decimals than the token has, signs, exponents, words and zero, saying why', () => {
    const tooFine = { ok: false, error: "Give the limit in the token's units, with at most 6 decimal places, such as 25.5." };
    expect(readDailyLimit('0.0000001', 6, tEn)).toEqual(tooFine);
    for (const bad of ['-1', '1e3', '1,5', 'ten', '0x10', '1.2.3', 'Infinity']) expect(readDailyLimit(bad, 6, tEn)).toEqual(tooFine);
    expect(readDailyLimit('0', 6, tEn)).toEqual({
      ok: false,
      error: 'A limit must be more than zero. Leave it empty for no limit, or turn the token off.',
    });
    expect(readDailyLimit('0.000', 6, tEn).ok).toBe(false);
  });

  it('shows a stored limit back in token units', () => {
    expect(dailyLimitText('25500000', 6)).toBe('25.5');
    expect(dailyLimitText('123456789012345678901234567890123456789012345678', 18)).toBe(
      '123456789012345678901234567890.123456789012345678',
    );
    expect(dailyLimitText(undefined, 6)).toBe('');
    expect(dailyLimitText('not base units', 6)).toBe('');
  });
});

describe('the add-network form', () => {
  const form = { chainId: '31338', name: 'Local test chain', explorer: '', rpcUrl: 'http://127.0.0.1:8545' };

  it('gives a network that pays nothing until turned on', () => {
    expect(readNetworkForm(form, DEFAULT_NETWORKS, tEn)).toEqual({
      ok: true,
      value: { chainId: 31338, name: 'Local test chain', aliases: [], rpcUrl: 'http://127.0.0.1:8545', enabled: false, tokens: [] },
    });
  });

  it('says what is wrong with each field', () => {
    const read = readNetworkForm({ chainId: '0x1', name: ' ', explorer: 'ftp://files.example', rpcUrl: 'not a url' }, [], tEn);
    expect(read).toEqual({
      ok: false,
      errors: {
        chainId: 'Give the chain id as a whole number, such as 8453.',
        name: 'Give a name of 1 to 60 characters.',
        explorer: 'Give the explorer as an http or https URL, or leave it empty.',
        rpcUrl: 'Give the RPC URL as an http or https URL, or leave it empty.',
      },
    });
    for (const chainId of ['0', '-1', '1.5', '99999999999999999']) expect(readNetworkForm({ ...form, chainId }, [], tEn).ok).toBe(false);
  });

  it('refuses a chain already listed, together with what else is wrong', () => {
    expect(readNetworkForm({ ...form, chainId: '8453' }, DEFAULT_NETWORKS, tEn)).toEqual({
      ok: false,
      errors: { chainId: 'Chain 8453 is already in your list.' },
    });
    expect(readNetworkForm({ ...form, chainId: ' 8453', rpcUrl: 'not a url' }, DEFAULT_NETWORKS, tEn)).toEqual({
      ok: false,
      errors: { chainId: 'Chain 8453 is already in your list.', rpcUrl: 'Give the RPC URL as an http or https URL, or leave it empty.' },
    });
  });

  it('takes an RPC URL on its own, empty removing it', () => {
    expect(readRpcUrl(' https://rpc.example/v1 ', tEn)).toEqual({ ok: true, value: 'https://rpc.example/v1' });
    expect(readRpcUrl('', tEn)).toEqual({ ok: true, value: undefined });
    expect(readRpcUrl('javascript:alert(1)', tEn).ok).toBe(false);
  });
});

describe('the add-token form', () => {
  const base = DEFAULT_NETWORKS[0]!;
  const form = { address: TOKEN, symbol: 'USDC', decimals: '6', eip712Name: 'USD Coin', eip712Version: '2' };

  it('gives a token that is off, with its EIP-712 domain', () => {
    expect(readTokenForm(form, base, tEn)).toEqual({
      ok: true,
      value: { address: TOKEN, symbol: 'USDC', decimals: 6, eip712: { name: 'USD Coin', version: '2' }, enabled: false },
    });
  });

  it('says what is wrong with each field', () => {
    expect(readTokenForm({ address: '0x1234', symbol: 'U SDC', decimals: '37', eip712Name: '', eip712Version: '' }, base, tEn)).toEqual({
      ok: false,
      errors: {
        address: "Give the token's contract address: 0x and 40 hexadecimal digits.",
        symbol: 'Give a symbol of 1 to 16 letters or digits, such as USDC.',
        decimals: "Give the token's decimals, a whole number from 0 to 36.",
        eip712Name: "Give the token's EIP-712 name (1 to 100 characters).",
        eip712Version: "Give the token's EIP-712 version (1 to 40 characters).",
      },
    });
    expect(readTokenForm({ ...form, decimals: '-1' }, base, tEn).ok).toBe(false);
  });

  it('refuses a token already listed on that network, whatever the letter case', () => {
    expect(readTokenForm({ ...form, address: BASE_USDC.toLowerCase() }, base, tEn)).toEqual({
      ok: false,
      errors: { address: 'This token is already listed on Base.' },
    });
  });
});

describe('the balance', () => {
  let server: Server;
  let rpcUrl: string;
  /** What the endpoint answers next, and what it was asked. */
  let answer: { status: number; body: unknown } = { status: 200, body: {} };
  const asked: unknown[] = [];

  const read = (req: IncomingMessage) =>
    new Promise<string>((resolve) => {
      let s = '';
      req.on('data', (c) => (s += c));
      req.on('end', () => resolve(s));
    });

  beforeAll(async () => {
    server = createServer(async (req, res) => {
      asked.push(JSON.parse(await read(req)));
      res.writeHead(answer.status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(answer.body));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    rpcUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/rpc`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it('decodes a uint256 word as a bigint, past what a JS number holds', () => {
    expect(decodeUint256(`0x${'0'.repeat(63)}1`)).toBe(1n);
    expect(decodeUint256(`0x${'f'.repeat(64)}`)).toBe((1n << 256n) - 1n);
    expect(decodeUint256(`0x${(2n ** 60n + 1n).toString(16).padStart(64, '0')}`)).toBe(2n ** 60n + 1n);
  });

  it('refuses an empty or malformed answer instead of reading it as zero', () => {
    for (const bad of ['0x', '0x0', `0x${'0'.repeat(65)}`, `${'0'.repeat(64)}`, `0x${'g'.repeat(64)}`, 7, null])
      expect(() => decodeUint256(bad)).toThrow();
  });

  it('asks balanceOf(owner) with the address left-padded', () => {
    expect(balanceOfData(OWNER)).toBe(`0x70a08231000000000000000000000000${OWNER.slice(2).toLowerCase()}`);
    expect(() => balanceOfData('0x12')).toThrow();
  });

  it('reads it with one eth_call over HTTP', async () => {
    answer = { status: 200, body: { jsonrpc: '2.0', id: 1, result: `0x${12_345_678n.toString(16).padStart(64, '0')}` } };
    asked.length = 0;
    expect(await tokenBalance(fetch, tEn, { rpcUrl, token: TOKEN, owner: OWNER })).toBe(12_345_678n);
    expect(asked).toEqual([{ jsonrpc: '2.0', id: 1, method: 'eth_call', params: [{ to: TOKEN, data: balanceOfData(OWNER) }, 'latest'] }]);
  });

  it('says why when the endpoint fails, refuses, or answers something else', async () => {
    answer = { status: 503, body: {} };
    await expect(tokenBalance(fetch, tEn, { rpcUrl, token: TOKEN, owner: OWNER })).rejects.toThrow('The RPC URL answered 503.');
    answer = { status: 200, body: { jsonrpc: '2.0', id: 1, error: { code: -32000, message: 'execution reverted' } } };
    await expect(tokenBalance(fetch, tEn, { rpcUrl, token: TOKEN, owner: OWNER })).rejects.toThrow(
      'The RPC URL refused: execution reverted',
    );
    answer = { status: 200, body: { jsonrpc: '2.0', id: 1, result: '0x' } };
    await expect(tokenBalance(fetch, tEn, { rpcUrl, token: TOKEN, owner: OWNER })).rejects.toThrow(/not a balance/);
    answer = { status: 200, body: ['not', 'json-rpc'] };
    await expect(tokenBalance(fetch, tEn, { rpcUrl, token: TOKEN, owner: OWNER })).rejects.toThrow(
      'The RPC URL did not answer in JSON-RPC.',
    );
  });

  it('is read by the worker only for a listed token on a network with an RPC URL, for the unlocked wallet', async () => {
    const local = new MemoryStorage();
    const session = new MemoryStorage();
    const networks = createNetworks({ t: tEn, local, session, fetch });
    await expect(networks.balance(8453, BASE_USDC)).rejects.toThrow('No RPC URL is set for this network.');
    await local.set({ [NETWORKS_KEY]: DEFAULT_NETWORKS.map((n) => (n.chainId === 8453 ? { ...n, rpcUrl } : n)) });
    await expect(networks.balance(8453, TOKEN)).rejects.toThrow('That token is not in your list of networks and tokens.');
    await expect(networks.balance(8453, BASE_USDC)).rejects.toThrow('The wallet is locked.');
    await session.set({ [KEYS.unlocked]: { address: OWNER, privateKey: `0x${'11'.repeat(32)}` } });
    answer = { status: 200, body: { jsonrpc: '2.0', id: 1, result: `0x${(10n ** 30n).toString(16).padStart(64, '0')}` } };
    asked.length = 0;
    expect(await networks.balance(8453, BASE_USDC)).toBe('1000000000000000000000000000000');
    expect(asked).toEqual([expect.objectContaining({ params: [{ to: BASE_USDC, data: balanceOfData(OWNER) }, 'latest'] })]);
  });
});

describe("the window's Enable, in the worker", () => {
  it('switches on exactly the listed token and its network', async () => {
    const local = new MemoryStorage();
    const networks = createNetworks({ t: tEn, local, session: new MemoryStorage(), fetch });
    await networks.enable(8453, BASE_USDC.toLowerCase());
    const stored = readNetworks(local.peek(NETWORKS_KEY));
    expect(stored.map((n) => [n.chainId, n.enabled, n.tokens.map((x) => x.enabled)])).toEqual([
      [8453, true, [true]],
      [84532, false, [false]],
    ]);
  });

  it('refuses a token or network that is not listed, changing nothing', async () => {
    const local = new MemoryStorage();
    const networks = createNetworks({ t: tEn, local, session: new MemoryStorage(), fetch });
    await expect(networks.enable(8453, TOKEN)).rejects.toThrow('That token is not in your list of networks and tokens.');
    await expect(networks.enable(1, BASE_USDC)).rejects.toThrow('That token is not in your list of networks and tokens.');
    expect(local.writes).toBe(0);
  });

  it('keeps what the person changed meanwhile (each change starts from the stored list)', async () => {
    const local = new MemoryStorage();
    await local.set({ [NETWORKS_KEY]: DEFAULT_NETWORKS.map((n) => ({ ...n, rpcUrl: `https://rpc.example/${n.chainId}` })) });
    const networks = createNetworks({ t: tEn, local, session: new MemoryStorage(), fetch });
    await Promise.all([networks.enable(8453, BASE_USDC), networks.enable(84532, DEFAULT_NETWORKS[1]!.tokens[0]!.address)]);
    const stored = readNetworks(local.peek(NETWORKS_KEY));
    expect(stored.map((n) => [n.enabled, n.tokens[0]!.enabled, n.rpcUrl])).toEqual([
      [true, true, 'https://rpc.example/8453'],
      [true, true, 'https://rpc.example/84532'],
    ]);
  });
});

describe('how the window words an entry', () => {
  const plan: EvmExactPlan = {
    optionIndex: 0,
    state: 'enabled',
    chainId: 8453,
    networkName: 'Base',
    token: { address: BASE_USDC, symbol: 'USDC', decimals: 6 },
    payTo: OWNER,
    amount: '10000',
    validitySeconds: 300,
  };

  it('in the listed token units, on the listed network', () => {
    expect(evmAmountOn(plan, tEn, 'en-US')).toBe('0.01 USDC on Base');
    expect(evmAmountOn({ ...plan, amount: '1234567890123456789' }, tEn, 'en-US')).toBe('1,234,567,890,123.456789 USDC on Base');
    expect(tokenOn(plan, tEn)).toBe('USDC on Base');
  });

  it('in base units with the address for a token that is not listed, never with guessed decimals', () => {
    const unknown: EvmExactPlan = { ...plan, state: 'unknown', networkName: undefined, token: { address: BASE_USDC } };
    expect(evmAmount(unknown, tEn)).toBe('10000 base units of 0x8335…2913');
    expect(evmAmountOn(unknown, tEn)).toBe('10000 base units of 0x8335…2913 on chain 8453');
  });
});
