import type { CliIo } from '../cli-io.js';
import { runUp, type UpOptions } from '../up.js';

/** `quorum up`'s options are exactly those of `runUp`. */
export type UpCliOptions = UpOptions;

export async function up(opts: UpCliOptions, io: CliIo): Promise<number> {
  let stop = io.stop;
  let kill = io.kill;
  const handlers: Array<() => void> = [];
  if (!stop) {
    const stopAc = new AbortController();
    const killAc = new AbortController();
    const onSignal = (name: string) => () => {
      if (!stopAc.signal.aborted) {
        io.stdout.write(`${name} received: stopping the farm (again to kill at once)\n`);
        stopAc.abort();
      } else killAc.abort();
    };
    for (const sig of ['SIGINT', 'SIGTERM'] as const) {
      const h = onSignal(sig);
      process.on(sig, h);
      handlers.push(() => process.removeListener(sig, h));
    }
    stop = stopAc.signal;
    kill = killAc.signal;
  }
  try {
    const upOpts = {
      workers: opts.workers,
      port: opts.port,
      data: opts.data,
      redisPort: opts.redisPort,
      provision: opts.provision,
      ...(opts.builders !== undefined ? { builders: opts.builders } : {}),
      ...(opts.quorum !== undefined ? { quorum: opts.quorum } : {}),
    };
    return await runUp(upOpts, { stdout: io.stdout, stderr: io.stderr, env: io.env, stop, ...(kill ? { kill } : {}) });
  } finally {
    for (const remove of handlers) remove();
  }
}
