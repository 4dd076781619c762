import { pino } from 'pino';
import { closeOnSignals, configOrExit } from '@quorum/core';
import { loadWorkerConfig } from './config.js';
import { startWorker } from './index.js';

const config = configOrExit('quorum-worker', () => loadWorkerConfig());
const logger = pino({ name: `worker-${config.workerId}`, level: config.logLevel });
const worker = await startWorker(config, { logger });
// running jobs get the stop grace period, closing the queue connection a little more
closeOnSignals(() => worker.close(), logger, config.stopGraceMs + 15_000);
