/**
 * The SOVR rail's checks that need no chain: the authorization's wire shape, EIP-712 recovery
 * under SOVR's domain (with the same refusals as the contract: high s, odd recovery ids), and the
 * policy (payer, treasury, value, time window). Also: the rail's ABI fragments are SOVR's.
 */
import { Interface, Signature, Wallet, getAddress } from 'ethers';
import { describe, expect, it } from 'vitest';
import { loadSovrArtifact } from '../../contracts/compile.js';
import { randomAuthorizationNonce, signTransferAuthorization, sovrDomain, type TransferAuthorization } from '../../contracts/eip712.js';
import { ProblemError } from '../../shared/problem.js';
import { SOVR_RAIL_ABI } from '../../server/rails/sovr/abi.js';
import {
  checkAuthorization,
  parseAuthorization,
  recoverAuthorizer,
  type Authorization,
  type AuthorizationPolicy,
} from '../../server/rails/sovr/authorization.js';

const CHAIN_ID = 31337;
const TOKEN = getAddress('0x5fbdb2315678afecb367f032d93f642f64180aa3');
const SECP256K1_N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
const NOW = 1_800_000_000;
const payer = Wallet.createRandom();
const treasury = Wallet.createRandom().address;

async function signed(
  over: Partial<TransferAuthorization> = {},
  signer: { signTypedData: Wallet['signTypedData'] } = payer,
  chainId = CHAIN_ID,
  token = TOKEN,
) {
  const a: TransferAuthorization = {
    from: payer.address,
    to: treasury,
    value: 1500n,
    validAfter: BigInt(NOW - 600),
    validBefore: BigInt(NOW + 900),
    nonce: randomAuthorizationNonce(),
    ...over,
  };
  const signature = await signTransferAuthorization(signer as never, sovrDomain(chainId, token), a);
  return {
    from: a.from,
    to: a.to,
    value: a.value.toString(),
    validAfter: a.validAfter.toString(),
    validBefore: a.validBefore.toString(),
    nonce: a.nonce,
    signature,
  };
}

const policy = (over: Partial<AuthorizationPolicy> = {}): AuthorizationPolicy => ({
  chainId: CHAIN_ID,
  token: TOKEN,
  treasury,
  payer: payer.address,
  amount: 1500n,
  now: NOW,
  minValiditySeconds: 60,
  maxValiditySeconds: 3600,
  ...over,
});

function refusal(f: () => unknown): { reason?: unknown; errors?: unknown } {
  try {
    f();
  } catch (err) {
    expect(err).toBeInstanceOf(ProblemError);
    expect((err as ProblemError).code).toBe('invalid-authorization');
    expect((err as ProblemError).status).toBe(400);
    return (err as ProblemError).extra;
  }
  throw new Error('expected a refusal');
}
const reasonOf = (f: () => unknown) => refusal(f).reason;

describe('the authorization on the wire', () => {
  it('parses a well-formed authorization into checksummed addresses, bigints and lower-case hex', async () => {
    const wire = await signed();
    const a = parseAuthorization({ ...wire, from: wire.from.toLowerCase(), nonce: wire.nonce.toUpperCase().replace('0X', '0x') });
    expect(a).toEqual({
      from: payer.address,
      to: treasury,
      value: 1500n,
      validAfter: BigInt(NOW - 600),
      validBefore: BigInt(NOW + 900),
      nonce: wire.nonce.toLowerCase(),
      signature: wire.signature.toLowerCase(),
    });
  });

  it('refuses anything else as malformed, naming the field', async () => {
    const wire = await signed();
    const wrongChecksum =
      wire.from.slice(0, 2) +
      [...wire.from.slice(2)].map((c) => (/[a-f]/.test(c) ? c.toUpperCase() : /[A-F]/.test(c) ? c.toLowerCase() : c)).join('');
    const cases: [unknown, string][] = [
      [{ ...wire, extra: true }, 'authorization'],
      [{ ...wire, from: '0x1234' }, 'authorization.from'],
      [{ ...wire, to: wrongChecksum }, 'authorization.to'],
      [{ ...wire, value: 1500 }, 'authorization.value'],
      [{ ...wire, value: '01500' }, 'authorization.value'],
      [{ ...wire, value: '-1' }, 'authorization.value'],
      [{ ...wire, validBefore: (1n << 256n).toString() }, 'authorization.validBefore'],
      [{ ...wire, nonce: wire.nonce.slice(0, 64) }, 'authorization.nonce'],
      [{ ...wire, signature: `${wire.signature}00` }, 'authorization.signature'],
      [{ ...wire, signature: undefined }, 'authorization.signature'],
      ['0xdeadbeef', 'authorization'],
    ];
    for (const [raw, path] of cases) {
      const { reason, errors } = refusal(() => parseAuthorization(raw));
      expect(reason).toBe('malformed');
      expect(
        (errors as { path: string }[]).map((e) => e.path),
        JSON.stringify(raw),
      ).toContain(path);
    }
    expect(reasonOf(() => parseAuthorization(undefined))).toBe('missing');
  });
});

describe('EIP-712 recovery under SOVR’s domain', () => {
  const parse = async () => parseAuthorization(await signed());

  it('recovers the signer, with the recovery id as 27/28 or as 0/1', async () => {
    const a = await parse();
    expect(recoverAuthorizer(a, CHAIN_ID, TOKEN)).toBe(payer.address);
    const v = parseInt(a.signature.slice(130), 16);
    const low: Authorization = { ...a, signature: a.signature.slice(0, 130) + (v - 27).toString(16).padStart(2, '0') };
    expect(recoverAuthorizer(low, CHAIN_ID, TOKEN)).toBe(payer.address);
  });

  it('recovers someone else for another chain, another contract or changed fields', async () => {
    const a = await parse();
    expect(recoverAuthorizer(a, CHAIN_ID + 1, TOKEN)).not.toBe(payer.address);
    expect(recoverAuthorizer(a, CHAIN_ID, getAddress('0x' + '11'.repeat(20)))).not.toBe(payer.address);
    expect(recoverAuthorizer({ ...a, value: a.value + 1n }, CHAIN_ID, TOKEN)).not.toBe(payer.address);
  });

  it('refuses what the contract refuses: the high-s twin and other recovery ids', async () => {
    const a = await parse();
    const sig = Signature.from(a.signature);
    const highS = `0x${(SECP256K1_N - BigInt(sig.s)).toString(16).padStart(64, '0')}`;
    const twin = sig.r + highS.slice(2) + (sig.v === 27 ? '1c' : '1b');
    expect(recoverAuthorizer({ ...a, signature: twin }, CHAIN_ID, TOKEN)).toBeNull();
    expect(recoverAuthorizer({ ...a, signature: a.signature.slice(0, 130) + '1d' }, CHAIN_ID, TOKEN)).toBeNull();
    expect(recoverAuthorizer({ ...a, signature: `0x${'00'.repeat(65)}` }, CHAIN_ID, TOKEN)).toBeNull();
  });
});

describe('the hub’s policy for an authorization', () => {
  it('passes a good one', async () => {
    const a = parseAuthorization(await signed());
    expect(() => checkAuthorization(a, policy())).not.toThrow();
  });

  it('names the first check that fails', async () => {
    const other = Wallet.createRandom();
    const cases: [Promise<Awaited<ReturnType<typeof signed>>>, Partial<AuthorizationPolicy>, string][] = [
      [signed({}, other), {}, 'signature'],
      [signed({}, payer, CHAIN_ID + 1), {}, 'signature'],
      [signed(), { payer: other.address }, 'payer'],
      [signed({ to: other.address }), {}, 'recipient'],
      [signed({ value: 1501n }), {}, 'value'],
      [signed({ validAfter: BigInt(NOW) }), {}, 'not-yet-valid'],
      [signed({ validBefore: BigInt(NOW + 59) }), {}, 'expires-too-soon'],
      [signed({ validBefore: BigInt(NOW - 1) }), {}, 'expires-too-soon'],
      [signed({ validBefore: BigInt(NOW + 3601) }), {}, 'valid-too-long'],
    ];
    for (const [wire, over, reason] of cases) {
      const a = parseAuthorization(await wire);
      expect(
        reasonOf(() => checkAuthorization(a, policy(over))),
        reason,
      ).toBe(reason);
    }
  });

  it('takes the window edges as the contract does: validAfter strictly before now, validBefore at least the margin ahead', async () => {
    const earliest = parseAuthorization(await signed({ validAfter: BigInt(NOW - 1), validBefore: BigInt(NOW + 60) }));
    const longest = parseAuthorization(await signed({ validBefore: BigInt(NOW + 3600) }));
    expect(() => checkAuthorization(earliest, policy())).not.toThrow();
    expect(() => checkAuthorization(longest, policy())).not.toThrow();
  });

  it('accepts an authorization without a known payer (the database check decides then)', async () => {
    const a = parseAuthorization(await signed());
    expect(() => checkAuthorization(a, policy({ payer: undefined }))).not.toThrow();
  });
});

describe('the rail’s ABI', () => {
  it('is a subset of the compiled SOVR contract’s', () => {
    const sovr = new Interface(loadSovrArtifact().abi as never);
    const ours = new Interface(SOVR_RAIL_ABI);
    ours.forEachFunction((f) =>
      expect(sovr.getFunction(f.format('sighash'))?.format('minimal'), f.format('sighash')).toBe(f.format('minimal')),
    );
    ours.forEachEvent((e) => expect(sovr.getEvent(e.format('sighash'))?.topicHash, e.format('sighash')).toBe(e.topicHash));
  });
});
