import { readFileSync } from 'node:fs';
import {
  AbiCoder,
  ContractFactory,
  Signature,
  TypedDataEncoder,
  ZeroAddress,
  ZeroHash,
  type TransactionReceipt,
  type TypedDataDomain,
  type Wallet,
} from 'ethers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  PERMIT_TYPES,
  TRANSFER_WITH_AUTHORIZATION_TYPES,
  randomAuthorizationNonce,
  signBurnForPOS,
  signCancelAuthorization,
  signReceiveAuthorization,
  signTransferAuthorization,
  sovrDomain,
  type BurnAuthorization,
  type TransferAuthorization,
} from '../../contracts/eip712.js';
import { compileSolidity } from '../../contracts/compile.js';
import type { SovrContract } from '../../contracts/deploy.js';
import { deploySovr, startChain, type SovrDeployment, type TestChain } from '../helpers/chain.js';

const SOVR = 10n ** 18n;
const SECP256K1_N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;

// Overloads must be named by their full signature in ethers.
const FN = {
  transferVrs: 'transferWithAuthorization(address,address,uint256,uint256,uint256,bytes32,uint8,bytes32,bytes32)',
  transferBytes: 'transferWithAuthorization(address,address,uint256,uint256,uint256,bytes32,bytes)',
  receiveVrs: 'receiveWithAuthorization(address,address,uint256,uint256,uint256,bytes32,uint8,bytes32,bytes32)',
  receiveBytes: 'receiveWithAuthorization(address,address,uint256,uint256,uint256,bytes32,bytes)',
  cancelVrs: 'cancelAuthorization(address,bytes32,uint8,bytes32,bytes32)',
  cancelBytes: 'cancelAuthorization(address,bytes32,bytes)',
  burnVrs: 'burnForPOS(address,uint256,uint256,uint256,bytes32,uint8,bytes32,bytes32)',
  burnBytes: 'burnForPOS(address,uint256,uint256,uint256,bytes32,bytes)',
  permitVrs: 'permit(address,address,uint256,uint256,uint8,bytes32,bytes32)',
  permitBytes: 'permit(address,address,uint256,uint256,bytes)',
} as const;

let chain: TestChain;
let sovr: SovrDeployment;
let domain: TypedDataDomain;
let deployer: Wallet, alice: Wallet, bob: Wallet, carol: Wallet, relayer: Wallet;

const token = (): SovrContract => sovr.contract;
const as = (w: Wallet): SovrContract => sovr.contract.connect(w) as SovrContract;
const vrs = (sig: string) => {
  const s = Signature.from(sig);
  return [s.v, s.r, s.s] as const;
};

async function send(from: Wallet, fn: string, args: readonly unknown[]): Promise<TransactionReceipt> {
  const tx = await as(from).getFunction(fn)(...args);
  return (await tx.wait()) as TransactionReceipt;
}

function events(receipt: TransactionReceipt, name: string) {
  return receipt.logs
    .map((l) => token().interface.parseLog(l))
    .filter((e) => e?.name === name)
    .map((e) => e!.args);
}

/** Balances of the usual parties and the supply, to show a refused call changed nothing. */
async function ledger(): Promise<bigint[]> {
  const parties = [deployer, alice, bob, carol, relayer].map((w) => w.address);
  return [...(await Promise.all(parties.map((a) => token().balanceOf(a)))), await token().totalSupply()];
}

/** A transfer authorization from alice, valid for an hour of chain time, signed later. */
async function auth(over: Partial<TransferAuthorization> = {}): Promise<TransferAuthorization> {
  const now = await chain.latestTimestamp();
  return {
    from: alice.address,
    to: bob.address,
    value: 3n * SOVR,
    validAfter: 0n,
    validBefore: now + 3600n,
    nonce: randomAuthorizationNonce(),
    ...over,
  };
}
const authArgs = (a: TransferAuthorization) => [a.from, a.to, a.value, a.validAfter, a.validBefore, a.nonce] as const;

/** The call reverts with `reason`, no balance moved, and the authorization's nonce is still unspent. */
async function expectRefused(attempt: Promise<unknown>, reason: string, before: bigint[], unspent?: { from: string; nonce: string }) {
  await expect(attempt).rejects.toMatchObject({ reason });
  expect(await ledger()).toEqual(before);
  if (unspent) expect(await token().authorizationState(unspent.from, unspent.nonce)).toBe(false);
}

beforeAll(async () => {
  chain = await startChain();
  [deployer, alice, bob, carol, relayer] = chain.accounts as [Wallet, Wallet, Wallet, Wallet, Wallet];
  sovr = await deploySovr(chain, deployer);
  domain = sovrDomain(chain.chainId, sovr.address);
  await sovr.mint(alice.address, 1_000n * SOVR);
});

afterAll(async () => chain?.stop());

describe('SOVR as an ERC-20', () => {
  it('is named SOVR, has 18 decimals, and its deployer owns it', async () => {
    expect(await token().name()).toBe('SOVR');
    expect(await token().symbol()).toBe('SOVR');
    expect(await token().decimals()).toBe(18n);
    expect(await token().version()).toBe('1');
    expect(await token().owner()).toBe(deployer.address);
    expect(await token().totalSupply()).toBe(1_000n * SOVR);
    expect(await token().balanceOf(alice.address)).toBe(1_000n * SOVR);
  });

  it('publishes its EIP-712 domain (EIP-5267) and the matching DOMAIN_SEPARATOR', async () => {
    const d = await token().eip712Domain();
    expect([...d]).toEqual(['0x0f', 'SOVR', '1', BigInt(chain.chainId), sovr.address, ZeroHash, []]);
    expect(await token().DOMAIN_SEPARATOR()).toBe(TypedDataEncoder.hashDomain(domain));
  });

  it('transfers, and refuses more than the balance or a transfer to the zero address', async () => {
    const receipt = await send(alice, 'transfer', [carol.address, 10n * SOVR]);
    expect(events(receipt, 'Transfer').map((e) => [...e])).toEqual([[alice.address, carol.address, 10n * SOVR]]);
    expect(await token().balanceOf(carol.address)).toBe(10n * SOVR);

    const before = await ledger();
    await expectRefused(as(carol).transfer(bob.address, 10n * SOVR + 1n), 'ERC20: transfer amount exceeds balance', before);
    await expectRefused(as(carol).transfer(ZeroAddress, 1n), 'ERC20: transfer to the zero address', before);
    await send(carol, 'transfer', [alice.address, 10n * SOVR]);
  });

  it('spends an allowance with transferFrom, never beyond it, and keeps an infinite one infinite', async () => {
    await send(alice, 'approve', [bob.address, 5n]);
    await send(bob, 'transferFrom', [alice.address, carol.address, 3n]);
    expect(await token().allowance(alice.address, bob.address)).toBe(2n);
    const before = await ledger();
    await expectRefused(as(bob).transferFrom(alice.address, carol.address, 3n), 'ERC20: transfer amount exceeds allowance', before);

    const max = 2n ** 256n - 1n;
    await send(alice, 'approve', [bob.address, max]);
    await send(bob, 'transferFrom', [alice.address, carol.address, 1n]);
    expect(await token().allowance(alice.address, bob.address)).toBe(max);
    await send(alice, 'approve', [bob.address, 0n]);
  });

  it('lets only the owner mint', async () => {
    const supply = await token().totalSupply();
    const receipt = await sovr.mint(carol.address, 7n);
    expect(events(receipt, 'Transfer').map((e) => [...e])).toEqual([[ZeroAddress, carol.address, 7n]]);
    expect(await token().totalSupply()).toBe(supply + 7n);
    const before = await ledger();
    await expectRefused(as(alice).mint(alice.address, 1n), 'SOVR: caller is not the owner', before);
  });
});

describe('permit (EIP-2612)', () => {
  async function signPermit(signer: Wallet, over: { value?: bigint; deadline?: bigint; nonce?: bigint } = {}) {
    const message = {
      owner: alice.address,
      spender: bob.address,
      value: over.value ?? 50n,
      nonce: over.nonce ?? (await token().nonces(alice.address)),
      deadline: over.deadline ?? (await chain.latestTimestamp()) + 3600n,
    };
    return { message, signature: await signer.signTypedData(domain, PERMIT_TYPES, message) };
  }
  const permitArgs = (m: { owner: string; spender: string; value: bigint; deadline: bigint }) =>
    [m.owner, m.spender, m.value, m.deadline] as const;

  it('sets the allowance from a signature anyone submits, and the spender can use it', async () => {
    const nonce = await token().nonces(alice.address);
    const { message, signature } = await signPermit(alice);
    const receipt = await send(relayer, FN.permitVrs, [...permitArgs(message), ...vrs(signature)]);
    expect(events(receipt, 'Approval').map((e) => [...e])).toEqual([[alice.address, bob.address, 50n]]);
    expect(await token().allowance(alice.address, bob.address)).toBe(50n);
    expect(await token().nonces(alice.address)).toBe(nonce + 1n);
    await send(bob, 'transferFrom', [alice.address, carol.address, 50n]);
    expect(await token().allowance(alice.address, bob.address)).toBe(0n);
  });

  it('accepts the bytes-signature form too', async () => {
    const { message, signature } = await signPermit(alice, { value: 9n });
    await send(relayer, FN.permitBytes, [...permitArgs(message), signature]);
    expect(await token().allowance(alice.address, bob.address)).toBe(9n);
    await send(alice, 'approve', [bob.address, 0n]);
  });

  it('refuses an expired permit', async () => {
    const { message, signature } = await signPermit(alice, { deadline: (await chain.latestTimestamp()) - 1n });
    await expect(as(relayer).getFunction(FN.permitVrs)(...permitArgs(message), ...vrs(signature))).rejects.toMatchObject({
      reason: 'SOVR: permit is expired',
    });
    expect(await token().allowance(alice.address, bob.address)).toBe(0n);
  });

  it('refuses a permit signed by someone other than the owner', async () => {
    const { message, signature } = await signPermit(carol);
    await expect(as(relayer).getFunction(FN.permitVrs)(...permitArgs(message), ...vrs(signature))).rejects.toMatchObject({
      reason: 'SOVR: invalid signature',
    });
    expect(await token().allowance(alice.address, bob.address)).toBe(0n);
  });

  it('refuses a replayed permit', async () => {
    const { message, signature } = await signPermit(alice, { value: 4n });
    await send(relayer, FN.permitVrs, [...permitArgs(message), ...vrs(signature)]);
    await send(alice, 'approve', [bob.address, 0n]);
    const nonce = await token().nonces(alice.address);
    await expect(as(relayer).getFunction(FN.permitVrs)(...permitArgs(message), ...vrs(signature))).rejects.toMatchObject({
      reason: 'SOVR: invalid signature',
    });
    expect(await token().allowance(alice.address, bob.address)).toBe(0n);
    expect(await token().nonces(alice.address)).toBe(nonce);
  });
});

describe('transferWithAuthorization (EIP-3009)', () => {
  it('moves the tokens on a signature a relayer submits (v, r, s form), and spends the nonce', async () => {
    const a = await auth();
    const sig = await signTransferAuthorization(alice, domain, a);
    const before = await ledger();
    const receipt = await send(relayer, FN.transferVrs, [...authArgs(a), ...vrs(sig)]);
    expect(events(receipt, 'AuthorizationUsed').map((e) => [...e])).toEqual([[alice.address, a.nonce]]);
    expect(events(receipt, 'Transfer').map((e) => [...e])).toEqual([[alice.address, bob.address, a.value]]);
    expect(await token().authorizationState(alice.address, a.nonce)).toBe(true);
    const after = await ledger();
    expect(after[1]).toBe(before[1]! - a.value);
    expect(after[2]).toBe(before[2]! + a.value);
    expect(after[4]).toBe(before[4]); // the relayer paid gas, not tokens
  });

  it('accepts the bytes-signature form', async () => {
    const a = await auth({ to: carol.address, value: 2n });
    const sig = await signTransferAuthorization(alice, domain, a);
    const carolBefore = await token().balanceOf(carol.address);
    const receipt = await send(relayer, FN.transferBytes, [...authArgs(a), sig]);
    expect(events(receipt, 'AuthorizationUsed')).toHaveLength(1);
    expect(await token().balanceOf(carol.address)).toBe(carolBefore + 2n);
    expect(await token().authorizationState(alice.address, a.nonce)).toBe(true);
  });

  it('accepts a recovery id given as 0/1 instead of 27/28', async () => {
    const a = await auth({ value: 1n });
    const [v, r, s] = vrs(await signTransferAuthorization(alice, domain, a));
    await send(relayer, FN.transferVrs, [...authArgs(a), v - 27, r, s]);
    expect(await token().authorizationState(alice.address, a.nonce)).toBe(true);
  });

  it('refuses an expired authorization (validBefore reached)', async () => {
    const a = await auth({ validBefore: await chain.latestTimestamp() });
    const sig = await signTransferAuthorization(alice, domain, a);
    await expectRefused(
      as(relayer).getFunction(FN.transferVrs)(...authArgs(a), ...vrs(sig)),
      'SOVR: authorization is expired',
      await ledger(),
      a,
    );
  });

  it('refuses an authorization that is not valid yet (validAfter in the future)', async () => {
    const a = await auth({ validAfter: (await chain.latestTimestamp()) + 3600n, validBefore: (await chain.latestTimestamp()) + 7200n });
    const sig = await signTransferAuthorization(alice, domain, a);
    await expectRefused(
      as(relayer).getFunction(FN.transferVrs)(...authArgs(a), ...vrs(sig)),
      'SOVR: authorization is not yet valid',
      await ledger(),
      a,
    );
  });

  it('refuses a nonce already used, in either form and even for a freshly signed message', async () => {
    const a = await auth({ value: 1n });
    const sig = await signTransferAuthorization(alice, domain, a);
    await send(relayer, FN.transferVrs, [...authArgs(a), ...vrs(sig)]);
    const before = await ledger();
    await expectRefused(
      as(relayer).getFunction(FN.transferVrs)(...authArgs(a), ...vrs(sig)),
      'SOVR: authorization is used or canceled',
      before,
    );
    await expectRefused(as(relayer).getFunction(FN.transferBytes)(...authArgs(a), sig), 'SOVR: authorization is used or canceled', before);
    const other = { ...a, to: carol.address, value: 2n };
    const otherSig = await signTransferAuthorization(alice, domain, other);
    await expectRefused(
      as(relayer).getFunction(FN.transferBytes)(...authArgs(other), otherSig),
      'SOVR: authorization is used or canceled',
      before,
    );
  });

  it('refuses a signature by someone other than `from`', async () => {
    const a = await auth();
    const sig = await signTransferAuthorization(bob, domain, a);
    await expectRefused(as(relayer).getFunction(FN.transferVrs)(...authArgs(a), ...vrs(sig)), 'SOVR: invalid signature', await ledger(), a);
  });

  it('refuses a tampered value, recipient or chain', async () => {
    const a = await auth();
    const sig = await signTransferAuthorization(alice, domain, a);
    const before = await ledger();
    await expectRefused(
      as(relayer).getFunction(FN.transferVrs)(...authArgs({ ...a, value: a.value + 1n }), ...vrs(sig)),
      'SOVR: invalid signature',
      before,
      a,
    );
    await expectRefused(
      as(relayer).getFunction(FN.transferBytes)(...authArgs({ ...a, to: relayer.address }), sig),
      'SOVR: invalid signature',
      before,
      a,
    );
    const otherChain = await signTransferAuthorization(alice, { ...domain, chainId: 1 }, a);
    await expectRefused(as(relayer).getFunction(FN.transferBytes)(...authArgs(a), otherChain), 'SOVR: invalid signature', before, a);
  });

  it('refuses the malleable twin of a valid signature (EIP-2: s in the upper half)', async () => {
    const a = await auth();
    const [v, r, s] = vrs(await signTransferAuthorization(alice, domain, a));
    const twinV = v === 27 ? 28 : 27;
    const twinS = `0x${(SECP256K1_N - BigInt(s)).toString(16).padStart(64, '0')}`;
    // The twin is a real signature of alice's: the ecrecover precompile maps it to her address.
    const digest = TypedDataEncoder.hash(domain, TRANSFER_WITH_AUTHORIZATION_TYPES, a);
    const recovered = await chain.provider.call({
      to: '0x0000000000000000000000000000000000000001',
      data: AbiCoder.defaultAbiCoder().encode(['bytes32', 'uint8', 'bytes32', 'bytes32'], [digest, twinV, r, twinS]),
    });
    expect(AbiCoder.defaultAbiCoder().decode(['address'], recovered)[0]).toBe(alice.address);
    await expectRefused(
      as(relayer).getFunction(FN.transferVrs)(...authArgs(a), twinV, r, twinS),
      'SOVR: invalid signature',
      await ledger(),
      a,
    );
  });

  it('never takes address(0) as a signer, whatever the signature', async () => {
    const a = await auth({ from: ZeroAddress, value: 0n });
    const before = await ledger();
    // r = s = 0 makes ecrecover return address(0); a wrong length makes nothing at all.
    await expectRefused(
      as(relayer).getFunction(FN.transferVrs)(...authArgs(a), 27, ZeroHash, ZeroHash),
      'SOVR: invalid signature',
      before,
      a,
    );
    await expectRefused(as(relayer).getFunction(FN.transferBytes)(...authArgs(a), '0x'), 'SOVR: invalid signature', before, a);
  });

  it('refuses more than the balance and leaves the nonce unspent', async () => {
    const a = await auth({ value: 1_000_000n * SOVR });
    const sig = await signTransferAuthorization(alice, domain, a);
    await expectRefused(
      as(relayer).getFunction(FN.transferVrs)(...authArgs(a), ...vrs(sig)),
      'ERC20: transfer amount exceeds balance',
      await ledger(),
      a,
    );
  });
});

describe('receiveWithAuthorization (EIP-3009)', () => {
  it('lets the payee collect, in both forms', async () => {
    const a = await auth({ value: 4n });
    const sig = await signReceiveAuthorization(alice, domain, a);
    const bobBefore = await token().balanceOf(bob.address);
    const receipt = await send(bob, FN.receiveVrs, [...authArgs(a), ...vrs(sig)]);
    expect(events(receipt, 'AuthorizationUsed').map((e) => [...e])).toEqual([[alice.address, a.nonce]]);
    const b = await auth({ value: 5n });
    await send(bob, FN.receiveBytes, [...authArgs(b), await signReceiveAuthorization(alice, domain, b)]);
    expect(await token().balanceOf(bob.address)).toBe(bobBefore + 9n);
  });

  it('refuses anyone but the payee as caller', async () => {
    const a = await auth({ value: 4n });
    const sig = await signReceiveAuthorization(alice, domain, a);
    const before = await ledger();
    await expectRefused(as(relayer).getFunction(FN.receiveVrs)(...authArgs(a), ...vrs(sig)), 'SOVR: caller must be the payee', before, a);
    await expectRefused(as(alice).getFunction(FN.receiveBytes)(...authArgs(a), sig), 'SOVR: caller must be the payee', before, a);
  });

  it('does not accept a TransferWithAuthorization signature (a different type hash)', async () => {
    const a = await auth({ value: 4n });
    const sig = await signTransferAuthorization(alice, domain, a);
    await expectRefused(as(bob).getFunction(FN.receiveVrs)(...authArgs(a), ...vrs(sig)), 'SOVR: invalid signature', await ledger(), a);
  });
});

describe('cancelAuthorization (EIP-3009)', () => {
  it('cancels an unused authorization so it can no longer be used', async () => {
    const a = await auth();
    const sig = await signTransferAuthorization(alice, domain, a);
    const receipt = await send(relayer, FN.cancelVrs, [
      alice.address,
      a.nonce,
      ...vrs(await signCancelAuthorization(alice, domain, alice.address, a.nonce)),
    ]);
    expect(events(receipt, 'AuthorizationCanceled').map((e) => [...e])).toEqual([[alice.address, a.nonce]]);
    expect(await token().authorizationState(alice.address, a.nonce)).toBe(true);
    const before = await ledger();
    await expectRefused(
      as(relayer).getFunction(FN.transferVrs)(...authArgs(a), ...vrs(sig)),
      'SOVR: authorization is used or canceled',
      before,
    );
    const again = await signCancelAuthorization(alice, domain, alice.address, a.nonce);
    await expect(as(relayer).getFunction(FN.cancelBytes)(alice.address, a.nonce, again)).rejects.toMatchObject({
      reason: 'SOVR: authorization is used or canceled',
    });
  });

  it('refuses to cancel a used nonce, or on a signature not by the authorizer', async () => {
    const used = await auth({ value: 1n });
    await send(relayer, FN.transferBytes, [...authArgs(used), await signTransferAuthorization(alice, domain, used)]);
    await expect(
      as(relayer).getFunction(FN.cancelBytes)(
        alice.address,
        used.nonce,
        await signCancelAuthorization(alice, domain, alice.address, used.nonce),
      ),
    ).rejects.toMatchObject({ reason: 'SOVR: authorization is used or canceled' });

    const nonce = randomAuthorizationNonce();
    await expect(
      as(relayer).getFunction(FN.cancelBytes)(alice.address, nonce, await signCancelAuthorization(bob, domain, alice.address, nonce)),
    ).rejects.toMatchObject({ reason: 'SOVR: invalid signature' });
    expect(await token().authorizationState(alice.address, nonce)).toBe(false);
  });
});

describe('burnForPOS', () => {
  async function burnAuth(over: Partial<BurnAuthorization> = {}): Promise<BurnAuthorization> {
    const now = await chain.latestTimestamp();
    return { from: alice.address, value: 6n * SOVR, validAfter: 0n, validBefore: now + 3600n, nonce: randomAuthorizationNonce(), ...over };
  }
  const burnArgs = (b: BurnAuthorization) => [b.from, b.value, b.validAfter, b.validBefore, b.nonce] as const;

  it('burns the holder-authorized amount: balance and total supply go down, the burn is recorded', async () => {
    const b = await burnAuth();
    const sig = await signBurnForPOS(alice, domain, b);
    const before = await ledger();
    const receipt = await send(relayer, FN.burnVrs, [...burnArgs(b), ...vrs(sig)]);
    expect(events(receipt, 'BurnedForPOS').map((e) => [...e])).toEqual([[alice.address, b.nonce, relayer.address, b.value]]);
    expect(events(receipt, 'Transfer').map((e) => [...e])).toEqual([[alice.address, ZeroAddress, b.value]]);
    expect(events(receipt, 'AuthorizationUsed').map((e) => [...e])).toEqual([[alice.address, b.nonce]]);
    expect(await token().authorizationState(alice.address, b.nonce)).toBe(true);
    const after = await ledger();
    expect(after[1]).toBe(before[1]! - b.value);
    expect(after[5]).toBe(before[5]! - b.value);
  });

  it('accepts the bytes-signature form', async () => {
    const b = await burnAuth({ value: 1n });
    const supply = await token().totalSupply();
    await send(relayer, FN.burnBytes, [...burnArgs(b), await signBurnForPOS(alice, domain, b)]);
    expect(await token().totalSupply()).toBe(supply - 1n);
  });

  it('refuses an expired burn', async () => {
    const b = await burnAuth({ validBefore: await chain.latestTimestamp() });
    const sig = await signBurnForPOS(alice, domain, b);
    await expectRefused(
      as(relayer).getFunction(FN.burnVrs)(...burnArgs(b), ...vrs(sig)),
      'SOVR: authorization is expired',
      await ledger(),
      b,
    );
  });

  it('refuses a reused burn, and a burn on a nonce a transfer already spent', async () => {
    const b = await burnAuth({ value: 1n });
    const sig = await signBurnForPOS(alice, domain, b);
    await send(relayer, FN.burnVrs, [...burnArgs(b), ...vrs(sig)]);
    const before = await ledger();
    await expectRefused(
      as(relayer).getFunction(FN.burnVrs)(...burnArgs(b), ...vrs(sig)),
      'SOVR: authorization is used or canceled',
      before,
    );

    const t = await auth({ value: 1n });
    await send(relayer, FN.transferBytes, [...authArgs(t), await signTransferAuthorization(alice, domain, t)]);
    const sameNonce = await burnAuth({ value: 1n, nonce: t.nonce });
    const after = await ledger();
    await expectRefused(
      as(relayer).getFunction(FN.burnBytes)(...burnArgs(sameNonce), await signBurnForPOS(alice, domain, sameNonce)),
      'SOVR: authorization is used or canceled',
      after,
    );
  });

  it('refuses a burn signed by someone other than the holder, or a tampered amount', async () => {
    const b = await burnAuth();
    const before = await ledger();
    await expectRefused(
      as(relayer).getFunction(FN.burnBytes)(...burnArgs(b), await signBurnForPOS(bob, domain, b)),
      'SOVR: invalid signature',
      before,
      b,
    );
    const sig = await signBurnForPOS(alice, domain, b);
    await expectRefused(
      as(relayer).getFunction(FN.burnBytes)(...burnArgs({ ...b, value: b.value * 2n }), sig),
      'SOVR: invalid signature',
      before,
      b,
    );
  });

  it('refuses a TransferWithAuthorization signature presented as a burn', async () => {
    const b = await burnAuth();
    const asTransfer = await signTransferAuthorization(alice, domain, {
      from: b.from,
      to: ZeroAddress,
      value: b.value,
      validAfter: b.validAfter,
      validBefore: b.validBefore,
      nonce: b.nonce,
    });
    await expectRefused(as(relayer).getFunction(FN.burnBytes)(...burnArgs(b), asTransfer), 'SOVR: invalid signature', await ledger(), b);
  });

  it('refuses to burn more than the balance and leaves the nonce unspent', async () => {
    const b = await burnAuth({ value: 1_000_000n * SOVR });
    const sig = await signBurnForPOS(alice, domain, b);
    await expectRefused(
      as(relayer).getFunction(FN.burnVrs)(...burnArgs(b), ...vrs(sig)),
      'ERC20: burn amount exceeds balance',
      await ledger(),
      b,
    );
  });
});

describe('smart-contract wallets (EIP-1271)', () => {
  it('moves a contract wallet’s tokens on a signature the wallet approves, and refuses others', async () => {
    const source = readFileSync(new URL('./fixtures/ERC1271Wallet.sol', import.meta.url), 'utf8');
    const { artifact } = compileSolidity(source, 'ERC1271Wallet');
    const wallet = await new ContractFactory(artifact.abi as never, artifact.bytecode, deployer).deploy(carol.address);
    const walletAddress = await wallet.getAddress();
    await sovr.mint(walletAddress, 10n);

    // The wallet's owner key signs; the token asks the wallet, not ecrecover, because `from` has code.
    const a = await auth({ from: walletAddress, to: bob.address, value: 4n });
    await send(relayer, FN.transferVrs, [...authArgs(a), ...vrs(await signTransferAuthorization(carol, domain, a))]);
    const b = await auth({ from: walletAddress, to: bob.address, value: 1n });
    await send(relayer, FN.transferBytes, [...authArgs(b), await signTransferAuthorization(carol, domain, b)]);
    expect(await token().balanceOf(walletAddress)).toBe(5n);

    const c = await auth({ from: walletAddress, to: bob.address, value: 1n });
    await expectRefused(
      as(relayer).getFunction(FN.transferBytes)(...authArgs(c), await signTransferAuthorization(bob, domain, c)),
      'SOVR: invalid signature',
      await ledger(),
      c,
    );
    expect(await token().balanceOf(walletAddress)).toBe(5n);
  });
});
