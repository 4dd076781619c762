import { QuorumError, registrySettingOf, urlSetting, type Builder, type ReleasePurl } from '@quorum/core';
import { formatChoiceProblem } from '@quorum/compare';
import { npmBuilder, npmName } from '@quorum/builder-npm';
import { goBuilder } from '@quorum/builder-go';
import { cratesBuilder } from '@quorum/builder-crates';

/** Every ecosystem Quorum can rebuild; the only place builders are registered. */
export const ALL_BUILDERS: readonly Builder[] = registered([npmBuilder, goBuilder, cratesBuilder]);

/** The builders, each checked to name an artifact format the compare package has and stabilizers of that format. */
export function registered(builders: readonly Builder[]): readonly Builder[] {
  for (const b of builders) {
    const problem = formatChoiceProblem(b.artifactFormat, b.stabilizers);
    if (problem) throw new QuorumError('internal', `builder ${b.ecosystem}: ${problem}`);
  }
  return Object.freeze([...builders]);
}

/** The builder of a purl type, or undefined. */
export function findBuilder(ecosystem: string): Builder | undefined {
  return ALL_BUILDERS.find((b) => b.ecosystem === ecosystem);
}

/** The builder of a purl type; throws QuorumError('unknown-ecosystem'). */
export function builderFor(ecosystem: string): Builder {
  const b = findBuilder(ecosystem);
  if (!b) {
    throw new QuorumError('unknown-ecosystem', `no builder for ecosystem "${ecosystem}"; supported: ${ALL_BUILDERS.map((x) => x.ecosystem).join(', ')}`);
  }
  return b;
}

/** Registry base URL per ecosystem from settings (`QUORUM_<ECO>_REGISTRY`), else each builder's default. */
export function registriesFrom(settings: Record<string, string | undefined>): Record<string, string> {
  return Object.fromEntries(ALL_BUILDERS.map((b) => [b.ecosystem, urlSetting(registrySettingOf(b), settings[registrySettingOf(b)], b.defaultRegistry)]));
}

/** Each builder's own settings (`Builder.settings`) from the process's settings, else their defaults, by ecosystem. */
export function builderSettingsFrom(settings: Record<string, string | undefined>): Record<string, Record<string, string>> {
  return Object.fromEntries(ALL_BUILDERS.map((b) => [b.ecosystem, Object.fromEntries(Object.entries(b.settings ?? {}).map(([name, dflt]) => [name, settings[name] ?? dflt]))]));
}

/** The origins every builder's settings name as services to read (allowed like the registries). */
export function builderOriginsFrom(builderSettings: Record<string, Record<string, string>>): string[] {
  return ALL_BUILDERS.flatMap((b) => (b.settingOrigins ? b.settingOrigins({ ...b.settings, ...builderSettings[b.ecosystem] }) : []));
}

/** Where an ecosystem's source tree records a package's own name and version. */
export interface VersionManifest {
  /** the file, relative to the package directory (e.g. `package.json`) */
  file: string;
  /** the name and version the file's text declares; a field it does not declare (or a file that is not a manifest) is absent */
  identity(text: string): { name?: string; version?: string };
  /** the name a purl's release has in that file */
  nameOf(purl: Pick<ReleasePurl, 'namespace' | 'name'>): string;
}

const VERSION_MANIFESTS: Readonly<Record<string, VersionManifest>> = {
  npm: {
    file: 'package.json',
    identity(text) {
      let doc: unknown;
      try {
        doc = JSON.parse(text.replace(/^\uFEFF/, ''));
      } catch {
        return {};
      }
      if (!doc || typeof doc !== 'object' || Array.isArray(doc)) return {};
      const { name, version } = doc as { name?: unknown; version?: unknown };
      return { ...(typeof name === 'string' ? { name } : {}), ...(typeof version === 'string' ? { version } : {}) };
    },
    nameOf: npmName,
  },
};

/**
 * The manifest that names a release in its ecosystem's source tree, used to find the commit that set
 * a version when no tag names it (and to check such a commit); undefined for an ecosystem without one.
 */
export function versionManifestFor(ecosystem: string): VersionManifest | undefined {
  return Object.hasOwn(VERSION_MANIFESTS, ecosystem) ? VERSION_MANIFESTS[ecosystem] : undefined;
}
