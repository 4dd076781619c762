import { pino } from 'pino';
import { closeOnSignals, configOrExit } from '@quorum/core';
import { loadWorkerConfig } from './config.js';
import { startWorker } from './index.js';

const config = configOrExit('quorum-worker', () => loadWorkerConfig());
const logger = pino({ name: `worker-${config.workerId}`, level: config.logLevel });
const worker = await startWorker(config, { logger });
closeOnSignals(() => worker.close(), logger);
