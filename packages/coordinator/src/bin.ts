import { pino } from 'pino';
import { closeOnSignals, configOrExit } from '@quorum/core';
import { loadCoordinatorConfig } from './config.js';
import { startCoordinator } from './index.js';

const config = configOrExit('quorum-coordinator', () => loadCoordinatorConfig());
const logger = pino({ name: 'coordinator', level: config.logLevel });
const running = await startCoordinator(config, logger);
closeOnSignals(() => running.close(), logger);
