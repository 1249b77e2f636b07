/** Deploys SOVR (compiled on demand, see compile.ts) and wraps it for ethers. */
import {
  Contract,
  ContractFactory,
  type BaseContract,
  type BaseContractMethod,
  type ContractRunner,
  type ContractTransactionResponse,
  type Result,
  type Signer,
  type TransactionReceipt,
} from 'ethers';
import { loadSovrArtifact, type SovrArtifact } from './compile.js';

type View<A extends unknown[], R> = BaseContractMethod<A, R, R>;
type Send<A extends unknown[]> = BaseContractMethod<A, unknown, ContractTransactionResponse>;

/**
 * SOVR's plain (not overloaded) functions, typed. The overloaded ones (permit, the EIP-3009
 * functions, burnForPOS) are reached by full signature: `getFunction('burnForPOS(address,…,bytes)')`.
 */
export type SovrContract = BaseContract & {
  name: View<[], string>;
  symbol: View<[], string>;
  decimals: View<[], bigint>;
  version: View<[], string>;
  owner: View<[], string>;
  totalSupply: View<[], bigint>;
  balanceOf: View<[owner: string], bigint>;
  allowance: View<[owner: string, spender: string], bigint>;
  nonces: View<[owner: string], bigint>;
  authorizationState: View<[authorizer: string, nonce: string], boolean>;
  DOMAIN_SEPARATOR: View<[], string>;
  eip712Domain: View<[], Result>;
  transfer: Send<[to: string, value: bigint]>;
  approve: Send<[spender: string, value: bigint]>;
  transferFrom: Send<[from: string, to: string, value: bigint]>;
  mint: Send<[to: string, value: bigint]>;
  transferOwnership: Send<[newOwner: string]>;
};

export interface SovrDeployment {
  address: string;
  /** Connected to the deployer, who is the owner and the only one allowed to mint. */
  contract: SovrContract;
  deployTransactionHash: string;
  /** Owner mint; resolves once the transaction is mined (mine yourself when automine is off). */
  mint(to: string, amount: bigint): Promise<TransactionReceipt>;
}

/** SOVR at `address`, with its ABI, for reading or for sending as `runner`. */
export function sovrAt(address: string, runner: ContractRunner, artifact: SovrArtifact = loadSovrArtifact()): SovrContract {
  return new Contract(address, artifact.abi as never, runner) as unknown as SovrContract;
}

export async function deploySovr(deployer: Signer, opts: { artifact?: SovrArtifact } = {}): Promise<SovrDeployment> {
  const artifact = opts.artifact ?? loadSovrArtifact();
  const factory = new ContractFactory(artifact.abi as never, artifact.bytecode, deployer);
  const deployed = await factory.deploy();
  await deployed.waitForDeployment();
  const address = await deployed.getAddress();
  const contract = sovrAt(address, deployer, artifact);
  return {
    address,
    contract,
    deployTransactionHash: deployed.deploymentTransaction()!.hash,
    async mint(to, amount) {
      const tx = await contract.mint(to, amount);
      const receipt = (await tx.wait()) as TransactionReceipt | null;
      if (receipt?.status !== 1) throw new Error(`SOVR mint to ${to} failed`);
      return receipt;
    },
  };
}
