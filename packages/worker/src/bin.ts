import { pino } from 'pino';
import { loadWorkerConfig } from './config.js';
import { startWorker } from './index.js';

const config = (() => {
  try {
    return loadWorkerConfig();
  } catch (e) {
    process.stderr.write(`quorum-worker: ${(e as Error).message}\n`);
    process.exit(2);
  }
})();
const logger = pino({ name: `worker-${config.workerId}`, level: config.logLevel });
const worker = await startWorker(config, { logger });
let closing = false;
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.on(signal, () => {
    if (closing) return;
    closing = true;
    logger.info({ signal }, 'shutting down');
    worker.close().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  });
}
