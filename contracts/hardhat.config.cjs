// Configuration for `hardhat node`, the local chain that tests and `npm start` run SOVR on.
// Started by contracts/local-chain.ts:
//   node node_modules/hardhat/internal/cli/cli.js node --config contracts/hardhat.config.cjs --hostname 127.0.0.1 --port 8545
// CommonJS because the repository is an ES module package and Hardhat 2 loads its config with require().

/** The public Hardhat/Foundry dev mnemonic: its keys are known to everyone, never use them elsewhere. */
const DEV_MNEMONIC = 'test test test test test test test test test test test junk';

module.exports = {
  networks: {
    hardhat: {
      // 31337 unless TOLLWAY_HARDHAT_CHAIN_ID says otherwise (local-chain.ts sets it for a chain that
      // stands for another network, such as the USDC test chain).
      chainId: Number(process.env.TOLLWAY_HARDHAT_CHAIN_ID) || 31337,
      // Same as SOVR_EVM_VERSION in compile.ts: the chain must run every opcode the compiler emits.
      hardfork: 'cancun',
      // Automine by default; tests that need pending transactions turn it off with evm_setAutomine
      // and mine with evm_mine / hardhat_mine.
      mining: { auto: true, interval: 0 },
      accounts: { mnemonic: DEV_MNEMONIC, count: 20, accountsBalance: '10000000000000000000000' },
      // Logging every RPC call floods the child's stdout; TOLLWAY_CHAIN_LOGGING=1 turns it back on.
      loggingEnabled: process.env.TOLLWAY_CHAIN_LOGGING === '1',
    },
  },
  // Hardhat never compiles here (solc-js does, see compile.ts), but `node` still watches these
  // paths; keep them inside the git-ignored build folder.
  paths: {
    sources: './build/hardhat/sources',
    cache: './build/hardhat/cache',
    artifacts: './build/hardhat/artifacts',
  },
};
