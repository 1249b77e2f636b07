/** `npm start`: the hub, a demo merchant, the demo shop and the extension build. See ./orchestrator.ts. */
import { runStart } from './orchestrator.js';

runStart().then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`tollway: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
