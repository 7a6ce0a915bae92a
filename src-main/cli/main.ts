// `sift <command>`: the headless entry point. Each command lives in its own module and returns an
// exit code; usage errors exit 2, failures 1, with a message on stderr a person can act on.
import { askCommand, ASK_USAGE } from './ask.js';
import { calibrateCommand, CALIBRATE_USAGE } from './calibrate.js';
import { PLAN_USAGE } from './plan.js';
import { UsageError } from './usageError.js';

const USAGE = `Usage: sift <command> [options]

Commands:
  ask        answer a question, optionally about a document, and print metrics
  calibrate  measure which layers SimLayerKV can trim on a model, and store the profile
  plan       say which KV policy auto would choose for a prompt length, without running it
  serve      serve the app on 127.0.0.1 for a browser
  worker     serve this machine's GPU or CPU to a Sift engine elsewhere (llama.cpp RPC)

${ASK_USAGE}

${CALIBRATE_USAGE}

${PLAN_USAGE}

Run \`sift serve --help\` and \`sift worker --help\` for their options.`;

type Command = (argv: string[]) => Promise<number>;

const COMMANDS: Record<string, () => Promise<Command>> = {
  ask: async () => askCommand,
  calibrate: async () => calibrateCommand,
  plan: async () => (await import('./plan.js')).planCommand,
  serve: async () => (await import('./serve.js')).serveCommand,
  worker: async () => (await import('./worker.js')).workerCommand,
};

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return name ? 0 : 2;
  }
  const load = COMMANDS[name];
  if (!load) {
    process.stderr.write(`sift: unknown command "${name}"\n\n${USAGE}\n`);
    return 2;
  }
  try {
    return await (await load())(rest);
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(`sift ${name}: ${error.message}\n`);
      return 2;
    }
    process.stderr.write(`sift ${name}: ${error instanceof Error ? error.message : String(error)}\n`);
    return 1;
  }
}

process.exitCode = await main(process.argv.slice(2));
