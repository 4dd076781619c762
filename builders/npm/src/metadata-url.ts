/**
 * npm's abbreviated metadata ("corgi"): the versions' `dist` (tarball, integrity) without readmes or
 * full manifests, a fraction of the full document; a registry without it serves the full one.
 */
export const NPM_ABBREVIATED_METADATA = 'application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8';

/**
 * The URL of a package's packument: scoped names keep the @ and escape the slash, as the registry
 * expects; every part is encoded, so a name can never walk the registry's paths or add a query.
 */
export function npmMetadataUrl(pkg: { namespace: string | undefined; name: string }, registry: string): string {
  const scope = pkg.namespace ? `@${encodeURIComponent(pkg.namespace.replace(/^@/, ''))}%2f` : '';
  return `${registry.replace(/\/+$/, '')}/${scope}${encodeURIComponent(pkg.name)}`;
}
