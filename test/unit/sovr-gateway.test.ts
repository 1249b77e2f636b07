/**
 * The gateway against a real local chain: nonces handed out in order from the node's count, each
 * transaction stored before the node sees it, and a nonce whose transaction never reached the
 * node handed to the next one (no gap). Nothing is sent for a transfer that would revert or when
 * the node cannot be reached.
 */
import { JsonRpcProvider, Network, Wallet } from 'ethers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createGateway, type SignedTx } from '../../server/chain/evm/gateway.js';
import { deploySovr, startChain, type SovrDeployment, type TestChain } from '../helpers/chain.js';
import { freePort } from '../helpers/hub.js';

let chain: TestChain;
let sovr: SovrDeployment;
let provider: JsonRpcProvider;

beforeAll(async () => {
  chain = await startChain();
  sovr = await deploySovr(chain);
  provider = new JsonRpcProvider(chain.rpcUrl, Network.from(chain.chainId), { staticNetwork: true, cacheTimeout: -1, batchStallTime: 0 });
});
afterAll(async () => {
  provider?.destroy();
  await chain?.stop();
});

/** A harmless call any address can make: a SOVR transfer of nothing. */
const noop = () => sovr.contract.interface.encodeFunctionData('transfer', [chain.accounts[5]!.address, 0n]);
const gatewayFor = (wallet: Wallet, p = provider) =>
  createGateway({ provider: p, chainId: chain.chainId, wallet: Promise.resolve(wallet) });

describe('the SOVR gateway', () => {
  it('gives 20 concurrent submissions consecutive nonces, each stored before the node saw it', async () => {
    const wallet = chain.accounts[1]!;
    const gw = gatewayFor(new Wallet(wallet.privateKey));
    const start = await provider.getTransactionCount(wallet.address, 'pending');
    const seenAtPersist: boolean[] = [];
    const results = await Promise.all(
      Array.from({ length: 20 }, () =>
        gw.submit({
          to: sovr.address,
          data: noop(),
          persist: async (tx) => {
            seenAtPersist.push((await provider.getTransaction(tx.hash)) !== null);
          },
        }),
      ),
    );
    expect(results.every((r) => r.status === 'sent')).toBe(true);
    const nonces = results.map((r) => (r as { tx: SignedTx }).tx.nonce).sort((a, b) => a - b);
    expect(nonces).toEqual(Array.from({ length: 20 }, (_, i) => start + i));
    expect(seenAtPersist).toEqual(Array(20).fill(false));
    for (const r of results) expect((await provider.getTransactionReceipt((r as { tx: SignedTx }).tx.hash))?.status).toBe(1);
  });

  it('sends nothing for a transfer that would revert, and keeps the nonce for the next', async () => {
    const wallet = chain.accounts[2]!;
    const gw = gatewayFor(new Wallet(wallet.privateKey));
    const start = await provider.getTransactionCount(wallet.address, 'pending');
    let persisted = 0;
    const persist = async () => void persisted++;
    const overdraw = sovr.contract.interface.encodeFunctionData('transfer', [chain.accounts[5]!.address, 1n]);
    const r = await gw.submit({ to: sovr.address, data: overdraw, persist });
    expect(r).toEqual({ status: 'refused', reason: 'the transfer would revert: ERC20: transfer amount exceeds balance' });
    expect(persisted).toBe(0);
    const ok = await gw.submit({ to: sovr.address, data: noop(), persist });
    expect(ok.status === 'sent' && ok.tx.nonce).toBe(start);
  });

  it('hands the nonce of a transaction that could not be stored, or that the node refused, to the next one', async () => {
    const unfunded = Wallet.createRandom();
    const gw = gatewayFor(new Wallet(unfunded.privateKey));
    const rejected: string[] = [];
    const failing = await gw.submit({
      to: sovr.address,
      data: noop(),
      persist: async () => {
        throw new Error('disk full');
      },
    });
    expect(failing).toMatchObject({ status: 'refused', reason: expect.stringContaining('could not be stored') });

    // No ether for gas: the node refuses the broadcast; nothing of it is anywhere.
    const refused = await gw.submit({
      to: sovr.address,
      data: noop(),
      persist: async () => undefined,
      onRejected: async (_tx, reason) => void rejected.push(reason),
    });
    expect(refused.status).toBe('refused');
    expect(rejected).toHaveLength(1);
    expect(refused.status === 'refused' && refused.tx?.nonce).toBe(0);
    expect(await provider.getTransaction((refused as { tx: SignedTx }).tx.hash)).toBeNull();

    await (await chain.accounts[3]!.sendTransaction({ to: unfunded.address, value: 10n ** 18n })).wait();
    const sent = await gw.submit({ to: sovr.address, data: noop(), persist: async () => undefined });
    expect(sent.status === 'sent' && sent.tx.nonce).toBe(0);
  });

  it('refuses with nothing sent when the node cannot be reached', async () => {
    const dead = new JsonRpcProvider(`http://127.0.0.1:${await freePort()}`, Network.from(chain.chainId), { staticNetwork: true });
    try {
      const gw = gatewayFor(new Wallet(chain.accounts[4]!.privateKey), dead);
      const r = await gw.submit({ to: sovr.address, data: noop(), persist: async () => undefined });
      expect(r).toMatchObject({ status: 'refused', reason: expect.stringContaining('could not be asked, nothing was sent') });
    } finally {
      dead.destroy();
    }
  });

  it('re-broadcasts the very same bytes, and says the node has them', async () => {
    const wallet = chain.accounts[6]!;
    const gw = gatewayFor(new Wallet(wallet.privateKey));
    await chain.setAutomine(false);
    try {
      const r = await gw.submit({ to: sovr.address, data: noop(), persist: async () => undefined });
      if (r.status !== 'sent') throw new Error(`not sent: ${r.status}`);
      expect(await chain.dropTransaction(r.tx.hash)).toBe(true);
      expect(await gw.rebroadcast(r.tx)).toEqual({ status: 'sent' });
      expect(await gw.rebroadcast(r.tx)).toEqual({ status: 'sent' }); // already known: still sent
      await chain.mine(1);
      expect((await provider.getTransactionReceipt(r.tx.hash))?.status).toBe(1);
    } finally {
      await chain.setAutomine(true);
    }
  });
});
