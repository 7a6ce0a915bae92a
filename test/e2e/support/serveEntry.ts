// Starts `sift serve` directly, for tests (the same function the sift CLI dispatches to).
import { serveCommand } from '../../../src-main/cli/serve.js';

process.exit(await serveCommand(process.argv.slice(2)));
