import { homedir } from 'node:os';
import { join } from 'node:path';
import { isQuorumError, parseAnyPurl, registrySettingOf, type Builder, type GatePackage } from '@quorum/core';
import { FarmClient, ReleaseWatcher, type WatchEvent } from '@quorum/gate';
import { egressPolicy, parseHttpUrl } from '@quorum/net';
import { CliError, DEFAULT_SERVER, normalizeServerUrl } from '../api-client.js';
import { findLockfile, readLockfile } from '../audit.js';
import { parsePurl, type CliIo } from '../cli-io.js';
import { registryProtocolBuilder } from '../registry-protocol.js';
import { EXIT } from '../exit-codes.js';
import { safeText } from '../terminal-text.js';

export interface WatchCliOptions {
  lockfile?: string;
  interval: number;
  once?: boolean;
  backfill: number;
  state?: string;
  upstream?: string;
  changesFeed?: string;
  server?: string;
  token?: string;
  ecosystem?: string;
  json?: boolean;
}

/** A value given on the command line, its problem a usage error. */
const usage = parsePurl;

/** The builder whose registry is watched: the one named, else the lockfile's, else the only one that can. */
function builderFor(opts: WatchCliOptions, fromLockfile: Builder | undefined): Builder {
  if (fromLockfile && opts.ecosystem === undefined) {
    if (!fromLockfile.registryGate) throw new CliError('usage', `quorum cannot watch the ${fromLockfile.ecosystem} registry`);
    return fromLockfile;
  }
  const builder = registryProtocolBuilder(opts.ecosystem);
  if (fromLockfile && fromLockfile !== builder) throw new CliError('usage', `the lockfile is of ${fromLockfile.ecosystem}, not of ${builder.ecosystem}`);
  return builder;
}

/** The packages to follow: the purls given (without version) and every package the lockfile installs. */
function packagesOf(purls: readonly string[], ecosystem: string, locked: readonly string[]): GatePackage[] {
  const out = new Map<string, GatePackage>();
  for (const given of purls) {
    const p = usage(() => parseAnyPurl(given));
    if (p.type !== ecosystem) throw new CliError('usage', `${given} is not in the ${ecosystem} ecosystem; name packages as pkg:${ecosystem}/<name>`);
    if (p.version !== undefined) throw new CliError('usage', `${given} names one version; a watch follows a package: pkg:${ecosystem}/${p.namespace ? `${p.namespace}/` : ''}${p.name}`);
    out.set(`${p.namespace ?? ''}/${p.name}`, { namespace: p.namespace, name: p.name });
  }
  for (const purl of locked) {
    const p = parseAnyPurl(purl);
    if (p.type === ecosystem) out.set(`${p.namespace ?? ''}/${p.name}`, { namespace: p.namespace, name: p.name });
  }
  return [...out.values()];
}

function describe(e: WatchEvent): string | undefined {
  switch (e.event) {
    case 'baseline':
      return `watching ${e.package} from its ${e.versions} version${e.versions === 1 ? '' : 's'}`;
    case 'new':
      return e.outcome === 'submitted' ? `new ${e.purl}: submitted for verification` : `new ${e.purl}: the farm already has it (${e.status ?? 'unknown'})`;
    case 'not-submitted':
      return `new ${e.purl}: not submitted: ${e.error}${e.retry ? ' (tried again at the next poll)' : ''}`;
    case 'unreadable':
      return `${e.package}: ${e.error}`;
    case 'error':
      return `poll failed: ${e.error}; the next one starts from the last state kept`;
    case 'poll':
      return undefined;
  }
}

/** `quorum watch`: submits every new version of the followed packages as it appears in the registry. */
export async function watch(purls: string[], opts: WatchCliOptions, io: CliIo): Promise<number> {
  const found = opts.lockfile !== undefined ? findLockfile(opts.lockfile, process.cwd()) : undefined;
  const builder = builderFor(opts, found?.builder);
  const upstream = usage(() => parseHttpUrl(opts.upstream ?? (io.env[registrySettingOf(builder)] || builder.defaultRegistry)).href.replace(/\/+$/, ''));
  // what the lockfile downloads from the watched registry counts, pinned by an integrity or not
  const locked = found ? readLockfile(found, [upstream]).releases.map((r) => r.purl) : [];
  const packages = packagesOf(purls, builder.ecosystem, locked);
  if (packages.length === 0)
    throw new CliError('usage', `nothing to watch: name packages (pkg:${builder.ecosystem}/<name>) or give --lockfile${found ? ` (${found.name} installs no package from ${upstream})` : ''}`);
  const server = usage(() => normalizeServerUrl(opts.server ?? (io.env.QUORUM_SERVER || DEFAULT_SERVER)));
  const token = opts.token ?? (io.env.QUORUM_SUBMIT_TOKEN?.trim() || undefined);
  const stateFile = opts.state ?? join(io.env.QUORUM_STATE_DIR || join(homedir(), '.quorum'), 'watch-state.json');
  const egress = usage(() => egressPolicy({ allow: io.env.QUORUM_EGRESS_ALLOW ?? '' }));
  if (opts.changesFeed !== undefined && !builder.registryGate!.changes) throw new CliError('usage', `the ${builder.ecosystem} registry protocol has no changes feed`);
  const changesFeed = opts.changesFeed !== undefined ? usage(() => parseHttpUrl(opts.changesFeed!).href.replace(/\/+$/, '')) : undefined;
  const watcher = new ReleaseWatcher({
    ecosystem: builder.ecosystem,
    protocol: builder.registryGate!,
    upstream,
    farm: new FarmClient({ server, ...(token ? { token } : {}) }),
    packages,
    backfill: opts.backfill,
    stateFile,
    ...(changesFeed ? { changesFeed } : {}),
    egress,
    clock: io.clock,
    onEvent: (e) => {
      // one compact object per line (JSON Lines), so a long watch can be read line by line
      if (opts.json) return void io.stdout.write(`${safeText(JSON.stringify(e))}\n`);
      const line = describe(e);
      if (line) io.stdout.write(`${safeText(line)}\n`);
      else if (e.event === 'poll' && (io.stderr.isTTY || e.newVersions > 0 || e.problems > 0)) {
        io.stderr.write(
          `${safeText(`polled ${e.packages} of ${e.followed} package${e.followed === 1 ? '' : 's'} in ${(e.ms / 1000).toFixed(1)} s: ${e.newVersions} new, ${e.submitted} submitted, ${e.problems} problem${e.problems === 1 ? '' : 's'}`)}\n`,
        );
      }
    },
  });
  if (!opts.json)
    io.stderr.write(
      `${safeText(`watching ${packages.length} package${packages.length === 1 ? '' : 's'} in ${upstream}${changesFeed ? ` (those its changes feed names, and all of them hourly)` : ''} for the farm at ${server}${opts.once ? '' : `, every ${opts.interval} s`}`)}\n`,
    );
  try {
    if (opts.once) return (await watcher.poll()).problems === 0 ? EXIT.ok : EXIT.error;
    const stop = io.stop ?? signalStop();
    await watcher.run(opts.interval * 1000, stop);
    return EXIT.ok;
  } catch (e) {
    if (isQuorumError(e)) throw new CliError('usage', e.message);
    throw e;
  }
}

/** Aborted by SIGINT or SIGTERM of this process. */
function signalStop(): AbortSignal {
  const controller = new AbortController();
  const onSignal = () => {
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
    controller.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return controller.signal;
}
