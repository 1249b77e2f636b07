/**
 * Compiles contracts/SOVR.sol with solc-js into contracts/build/SOVR.json.
 *
 * `tsx contracts/compile.ts` compiles and prints the time it took. Code that needs the contract calls
 * `loadSovrArtifact()`, which recompiles whenever the source (or the compiler settings) changed since
 * the build file was written, so nothing ever deploys a stale artifact.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';

const CONTRACTS_DIR = dirname(fileURLToPath(import.meta.url));
export const SOVR_SOURCE_PATH = join(CONTRACTS_DIR, 'SOVR.sol');
export const DEFAULT_BUILD_DIR = join(CONTRACTS_DIR, 'build');

/** Must match the hardfork in hardhat.config.cjs: cancun is what public L2s such as Base run. */
export const SOVR_EVM_VERSION = 'cancun';

const SETTINGS = {
  optimizer: { enabled: true, runs: 10_000 },
  evmVersion: SOVR_EVM_VERSION,
  outputSelection: { '*': { '*': ['abi', 'evm.bytecode.object', 'evm.deployedBytecode.object'] } },
} as const;

/** A compiled contract as written to contracts/build/<name>.json. */
export interface ContractArtifact {
  contractName: string;
  abi: readonly Record<string, unknown>[];
  /** Creation code, 0x-prefixed. */
  bytecode: string;
  /** Runtime code, 0x-prefixed (e.g. for hardhat_setCode). */
  deployedBytecode: string;
  /** sha256 over the source, the compiler settings and the solc-js release. */
  sourceHash: string;
  solcVersion: string;
  evmVersion: string;
}

export type SovrArtifact = ContractArtifact;

interface Solc {
  compile(input: string): string;
  version(): string;
}

// solc-js takes ~0.4 s to load its wasm: load it only when something actually has to be compiled.
const requireCjs = createRequire(import.meta.url);
let solcInstance: Solc | undefined;
const loadSolc = (): Solc => (solcInstance ??= requireCjs('solc') as Solc);
/** The installed solc-js release (e.g. 0.8.30), read without loading the compiler. */
const solcRelease = (requireCjs('solc/package.json') as { version: string }).version;

interface SolcOutput {
  errors?: { severity: 'error' | 'warning' | 'info'; formattedMessage: string }[];
  contracts?: Record<
    string,
    Record<string, { abi: Record<string, unknown>[]; evm: { bytecode: { object: string }; deployedBytecode: { object: string } } }>
  >;
}

/** What an artifact's `sourceHash` is for `source`: a build file with another hash is stale. */
export function hashOf(source: string): string {
  return createHash('sha256')
    .update(JSON.stringify({ source, settings: SETTINGS, solc: solcRelease }))
    .digest('hex');
}

/**
 * Compiles one self-contained Solidity source with SOVR's settings and returns `contractName` from
 * it. Throws with solc's messages on any error. Also used by tests for their helper contracts.
 */
export function compileSolidity(source: string, contractName: string): { artifact: ContractArtifact; warnings: string[] } {
  const file = `${contractName}.sol`;
  const input = { language: 'Solidity', sources: { [file]: { content: source } }, settings: SETTINGS };
  const solc = loadSolc();
  const output = JSON.parse(solc.compile(JSON.stringify(input))) as SolcOutput;
  const problems = output.errors ?? [];
  const errors = problems.filter((e) => e.severity === 'error');
  if (errors.length > 0) throw new Error(`${file} does not compile:\n${errors.map((e) => e.formattedMessage).join('\n')}`);
  const contract = output.contracts?.[file]?.[contractName];
  if (!contract) throw new Error(`solc produced no ${contractName} contract`);
  return {
    artifact: {
      contractName,
      abi: contract.abi,
      bytecode: `0x${contract.evm.bytecode.object}`,
      deployedBytecode: `0x${contract.evm.deployedBytecode.object}`,
      sourceHash: hashOf(source),
      solcVersion: solc.version(),
      evmVersion: SOVR_EVM_VERSION,
    },
    warnings: problems.filter((e) => e.severity === 'warning').map((e) => e.formattedMessage),
  };
}

/** Compiles SOVR.sol (or the given source in its place). */
export function compileSovr(source = readFileSync(SOVR_SOURCE_PATH, 'utf8')): { artifact: ContractArtifact; warnings: string[] } {
  return compileSolidity(source, 'SOVR');
}

function readArtifact(file: string): ContractArtifact | undefined {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as ContractArtifact;
  } catch {
    return undefined;
  }
}

/**
 * The artifact compiled from `source` (with the contract named `contractName`), kept in
 * `buildDir/fileName` and compiled again only when the source or the settings changed.
 */
export function loadArtifact(source: string, contractName: string, fileName: string, buildDir = DEFAULT_BUILD_DIR): ContractArtifact {
  const existing = readArtifact(join(buildDir, fileName));
  if (existing && existing.sourceHash === hashOf(source)) return existing;
  const { artifact } = compileSolidity(source, contractName);
  writeArtifact(buildDir, artifact, fileName);
  return artifact;
}

/** Writes through a temporary file and a rename, so parallel test workers never read half a file. */
function writeArtifact(buildDir: string, artifact: ContractArtifact, fileName = 'SOVR.json'): void {
  mkdirSync(buildDir, { recursive: true });
  const file = join(buildDir, fileName);
  const tmp = `${file}.${process.pid}.${Date.now()}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(artifact, null, 2)}\n`);
  renameSync(tmp, file);
}

/** The compiled SOVR contract, compiled now if the build file is missing or older than the source. */
export function loadSovrArtifact(opts: { buildDir?: string } = {}): SovrArtifact {
  const buildDir = opts.buildDir ?? DEFAULT_BUILD_DIR;
  const source = readFileSync(SOVR_SOURCE_PATH, 'utf8');
  const existing = readArtifact(join(buildDir, 'SOVR.json'));
  if (existing && existing.sourceHash === hashOf(source)) return existing;
  const { artifact } = compileSovr(source);
  writeArtifact(buildDir, artifact);
  return artifact;
}

function main(): void {
  const started = performance.now();
  const { artifact, warnings } = compileSovr();
  writeArtifact(DEFAULT_BUILD_DIR, artifact);
  for (const w of warnings) process.stderr.write(`${w}\n`);
  const ms = Math.round(performance.now() - started);
  const size = (artifact.deployedBytecode.length - 2) / 2;
  process.stdout.write(
    `SOVR compiled with solc ${artifact.solcVersion} (evm ${artifact.evmVersion}) in ${ms} ms: runtime ${size} bytes, ${warnings.length} warning(s) → ${join(DEFAULT_BUILD_DIR, 'SOVR.json')}\n`,
  );
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) main();
