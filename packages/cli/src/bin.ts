import { runCli } from './main.js';

// a closed pipe (`quorum logs x | head`) ends the command quietly, like other Unix tools
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw e;
  });
}

// exitCode, not exit(): lets stdout drain when it is a pipe
process.exitCode = await runCli(process.argv.slice(2));
