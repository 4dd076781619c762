import { pino } from 'pino';
import { loadCoordinatorConfig } from './config.js';
import { startCoordinator } from './index.js';

const config = (() => {
  try {
    return loadCoordinatorConfig();
  } catch (e) {
    process.stderr.write(`quorum-coordinator: ${(e as Error).message}\n`);
    process.exit(2);
  }
})();
const logger = pino({ name: 'coordinator', level: config.logLevel });
const running = await startCoordinator(config, logger);
let closing = false;
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.on(signal, () => {
    if (closing) return;
    closing = true;
    logger.info({ signal }, 'shutting down');
    running.close().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  });
}
