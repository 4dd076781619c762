import type { Builder } from '@quorum/core';
import { ALL_BUILDERS } from '@quorum/ecosystems';
import { CliError } from './api-client.js';

/** The builder whose registry protocol `gate` and `watch` speak: the one `--ecosystem` names, else the only one that has one. */
export function registryProtocolBuilder(ecosystem: string | undefined): Builder {
  const able = ALL_BUILDERS.filter((b) => b.registryGate);
  const builder = ecosystem ? able.find((b) => b.ecosystem === ecosystem) : able.length === 1 ? able[0] : undefined;
  if (!builder) throw new CliError('usage', `--ecosystem must name one of: ${able.map((b) => b.ecosystem).join(', ')}`);
  return builder;
}
