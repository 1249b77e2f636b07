// Runs `hardhat node` inside this process, and ends it when the process that started it goes away.
// local-chain.ts spawns this file with an IPC channel: if the parent dies without calling stop()
// (a crashed test worker, a SIGKILLed `npm start`), the channel closes and the chain goes with it
// instead of holding its port forever.
process.on('disconnect', () => process.exit(0));
const cli = require.resolve('hardhat/internal/cli/cli.js');
process.argv = [process.argv[0], cli, ...process.argv.slice(2)];
require(cli);
