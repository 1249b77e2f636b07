/**
 * The SOVR rail as an operator turns it on: only environment variables (TOLLWAY_SOVR_*), a real
 * local chain with the real contract. `GET /rails` tells a wallet what to sign (chain, token,
 * treasury, EIP-712 domain), and a payment signed from exactly that completes.
 */
import { Wallet } from 'ethers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomAuthorizationNonce, signTransferAuthorization, sovrDomain } from '../../contracts/eip712.js';
import type { RailsInfo } from '../../shared/api.js';
import { createMerchant, pay, signIn, startTestHub, type TestHub } from '../helpers/hub.js';
import { expectLedgerBalanced } from '../helpers/invariant.js';
import { sovrHubEnv, useSovrChain } from '../helpers/sovr.js';

const bed = useSovrChain();
let hub: TestHub;
let service: Wallet;

beforeAll(async () => {
  service = bed.chain.accounts[3]!;
  hub = await startTestHub('sqlite', {
    env: {
      ...sovrHubEnv(bed.chain, bed.sovr, service),
      SOVR_CONFIRMATIONS: '2',
      TOLLWAY_SOVR_EXPLORER_TX_URL: 'https://explorer.example/tx/{hash}',
    },
  });
}, 60_000);

afterAll(async () => {
  await hub?.stop();
});

describe('the SOVR rail configured from the environment', () => {
  it('GET /rails says what a wallet signs: chain, token, treasury (the service wallet) and the EIP-712 domain', async () => {
    const info = (await (await fetch(`${hub.url}/rails`)).json()) as RailsInfo;
    expect(info.rails.map((r) => r.name)).toEqual(['internal', 'sovr', 'wallet']);
    expect(info.rails[1]).toMatchObject({
      name: 'sovr',
      network: `eip155:${bed.chain.chainId}`,
      chainId: bed.chain.chainId,
      token: bed.sovr.address,
      treasury: service.address,
      eip712: { name: 'SOVR', version: '1' },
      confirmations: 2,
    });
  });

  it('pays a hub merchant with an authorization built from GET /rails, and completes after the confirmations', async () => {
    const info = (await (await fetch(`${hub.url}/rails`)).json()) as RailsInfo;
    const rail = info.rails.find((r) => r.name === 'sovr')!;
    if (rail.name !== 'sovr') throw new Error('no sovr rail');
    const merchant = (await createMerchant(hub.url)).merchant.id;
    const person = await signIn(hub.url, Wallet.createRandom() as unknown as Wallet);
    const amount = 3n * 10n ** 15n;
    await bed.sovr.mint(person.wallet.address, 10n ** 18n);
    const now = BigInt(Math.floor(Date.now() / 1000));
    const a = {
      from: person.wallet.address,
      to: rail.treasury!,
      value: amount,
      validAfter: now - 600n,
      validBefore: now + 900n,
      nonce: randomAuthorizationNonce(),
    };
    const signature = await signTransferAuthorization(person.wallet, sovrDomain(rail.chainId, rail.token), a);
    const res = await pay(hub.url, person, 'sovr-config-1', {
      rail: 'sovr',
      payTo: merchant,
      amount: amount.toString(),
      asset: 'SOVR',
      authorization: {
        ...a,
        value: a.value.toString(),
        validAfter: a.validAfter.toString(),
        validBefore: a.validBefore.toString(),
        signature,
      },
    });
    expect(res.status).toBe(200);
    const submitted = (await res.json()) as {
      transactionId: string;
      status: string;
      receipt: { transactionHash?: string; blockExplorerUrl?: string };
    };
    expect(submitted.status).toBe('submitted');
    expect(submitted.receipt.blockExplorerUrl).toBe(`https://explorer.example/tx/${submitted.receipt.transactionHash}`);
    // Automine gives one block for the transaction; the second confirmation needs one more.
    await bed.chain.mine(1);
    let status = '';
    for (let i = 0; i < 200 && status !== 'completed'; i++) {
      await new Promise((r) => setTimeout(r, 50));
      status = (
        (await (
          await fetch(`${hub.url}/payments/${submitted.transactionId}`, { headers: { authorization: `Bearer ${person.accessToken}` } })
        ).json()) as { status: string }
      ).status;
    }
    expect(status).toBe('completed');
    expect(await bed.sovr.contract.balanceOf(service.address)).toBe(amount);
    await expectLedgerBalanced(hub.store.db);
  });
});
