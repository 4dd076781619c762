import { QuorumError, registrySettingName, urlSetting, type Builder } from '@quorum/core';
import { npmBuilder } from '@quorum/builder-npm';

/** Every ecosystem Quorum can rebuild; the only place builders are registered. */
export const ALL_BUILDERS: readonly Builder[] = [npmBuilder];

/** The builder of a purl type, or undefined. */
export function findBuilder(ecosystem: string): Builder | undefined {
  return ALL_BUILDERS.find((b) => b.ecosystem === ecosystem);
}

/** The builder of a purl type; throws QuorumError('unknown-ecosystem'). */
export function builderFor(ecosystem: string): Builder {
  const b = findBuilder(ecosystem);
  if (!b) {
    throw new QuorumError(
      'unknown-ecosystem',
      `no builder for ecosystem "${ecosystem}"; supported: ${ALL_BUILDERS.map((x) => x.ecosystem).join(', ')}`,
    );
  }
  return b;
}

/** Registry base URL per ecosystem from settings (`QUORUM_<ECO>_REGISTRY`), else each builder's default. */
export function registriesFrom(settings: Record<string, string | undefined>): Record<string, string> {
  return Object.fromEntries(
    ALL_BUILDERS.map((b) => [b.ecosystem, urlSetting(registrySettingName(b.ecosystem), settings[registrySettingName(b.ecosystem)], b.defaultRegistry)]),
  );
}
