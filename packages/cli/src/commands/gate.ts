import { homedir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { registrySettingOf } from '@quorum/core';
import { buildGate, FarmClient, parsePolicy, parseRule, type GateRule } from '@quorum/gate';
import { egressPolicy, parseHttpUrl } from '@quorum/net';
import { CliError, DEFAULT_SERVER, normalizeServerUrl } from '../api-client.js';
import { parsePurl, type CliIo } from '../cli-io.js';
import { registryProtocolBuilder } from '../registry-protocol.js';
import { safeText } from '../terminal-text.js';

export interface GateCliOptions {
  port: number;
  host: string;
  upstream?: string;
  server?: string;
  policy: string;
  policyFor?: string[];
  hideBlocked?: boolean;
  cooldown: number;
  wait: number;
  recheck: number;
  cacheDir?: string;
  cacheMb: number;
  publicUrl?: string;
  token?: string;
  ecosystem?: string;
}

/** A value given on the command line, its problem a usage error. */
const usage = parsePurl;

/** `quorum gate`: a registry front that hands over only what the farm's verdicts allow, until stopped. */
export async function gate(opts: GateCliOptions, io: CliIo): Promise<number> {
  const builder = registryProtocolBuilder(opts.ecosystem);
  const policies = { default: usage(() => parsePolicy(opts.policy)), rules: usage(() => (opts.policyFor ?? []).map(parseRule)) as GateRule[] };
  const settingName = registrySettingOf(builder);
  const upstream = usage(() => parseHttpUrl(opts.upstream ?? (io.env[settingName] || builder.defaultRegistry)).href.replace(/\/+$/, ''));
  const server = usage(() => normalizeServerUrl(opts.server ?? (io.env.QUORUM_SERVER || DEFAULT_SERVER)));
  const publicUrl = opts.publicUrl ? usage(() => parseHttpUrl(opts.publicUrl!).href.replace(/\/+$/, '')) : undefined;
  const token = opts.token ?? (io.env.QUORUM_SUBMIT_TOKEN?.trim() || undefined);
  const cacheDir = opts.cacheDir ?? join(io.env.QUORUM_STATE_DIR || join(homedir(), '.quorum'), 'gate-cache');
  const egress = usage(() => egressPolicy({ allow: io.env.QUORUM_EGRESS_ALLOW ?? '' }));
  const logger = pino({ base: { module: 'gate' } }, pino.destination({ dest: 2, sync: false }));
  const app = buildGate({
    ecosystem: builder.ecosystem,
    protocol: builder.registryGate!,
    upstream,
    farm: new FarmClient({ server, ...(token ? { token } : {}) }),
    policies,
    cacheDir,
    cacheBytes: opts.cacheMb * 2 ** 20,
    waitMs: opts.wait * 1000,
    recheckMs: opts.recheck * 1000,
    hideBlocked: opts.hideBlocked === true,
    cooldownMs: opts.cooldown * 3_600_000,
    ...(publicUrl ? { publicUrl } : {}),
    egress,
    logger,
  });
  try {
    await app.listen({ host: opts.host, port: opts.port });
  } catch (e) {
    throw new CliError('process', `the gate cannot listen on ${opts.host}:${opts.port}: ${e instanceof Error ? e.message : String(e)}`);
  }
  const address = app.server.address();
  const url = publicUrl ?? `http://${opts.host.includes(':') ? `[${opts.host}]` : opts.host}:${typeof address === 'object' && address ? address.port : opts.port}`;
  const rules = policies.rules.map((r) => `${r.pattern}=${r.policy}`).join(', ');
  io.stdout.write(
    safeText(
      `gate listening on ${url}/ (${builder.ecosystem}; upstream ${upstream}; farm ${server}; policy ${policies.default}${rules ? `, ${rules}` : ''}${opts.cooldown > 0 ? `; cooldown ${opts.cooldown} h` : ''}${opts.hideBlocked ? '; refused versions hidden' : ''})`,
    ) + `\nuse it: npm config set registry ${url}/\n`,
  );
  if (!token) {
    io.stderr.write('no submit token: the farm limits anonymous audits per address, and each tarball is one, so a large install may be answered 503; pass --token or set QUORUM_SUBMIT_TOKEN\n');
  }
  await new Promise<void>((resolve) => {
    if (io.stop) {
      if (io.stop.aborted) resolve();
      else io.stop.addEventListener('abort', () => resolve(), { once: true });
      return;
    }
    const onSignal = () => {
      process.removeListener('SIGINT', onSignal);
      process.removeListener('SIGTERM', onSignal);
      resolve();
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
  io.stdout.write('gate stopping\n');
  await app.close();
  logger.flush();
  return 0;
}
