import { isIP } from 'node:net';
import ipaddr from 'ipaddr.js';
import { QuorumError } from '@quorum/core';
import type { GitMirror } from './git-mirrors.js';

type IPv4 = ipaddr.IPv4;
type IPv6 = ipaddr.IPv6;
type Address = IPv4 | IPv6;

/** One operator exception of an egress policy: an address range or a host name, optionally limited to one port. */
export type EgressRule = { readonly kind: 'range'; readonly cidr: string; readonly port?: number } | { readonly kind: 'host'; readonly host: string; readonly port?: number };

/** A host and port an operator configured (the registry, the coordinator): allowed whatever the address class. */
export interface EgressOrigin {
  readonly host: string;
  readonly port: number;
}

/** Which outside addresses this process may connect to; immutable, built by {@link egressPolicy}. */
export interface EgressPolicy {
  /** everything is allowed (consumer-side tools, test fixtures) */
  readonly open: boolean;
  readonly rules: readonly EgressRule[];
  readonly origins: readonly EgressOrigin[];
  /** the operator's own copies of repositories, which git fetches instead (see {@link gitTarget}) */
  readonly gitMirrors: readonly GitMirror[];
}

/** Options of {@link egressPolicy}. */
export interface EgressPolicyOptions {
  /** operator exceptions: CIDRs, IPs, `host:port`, `[v6]:port`, host names; comma/whitespace separated or an array; @defaultValue none */
  allow?: string | readonly string[];
  /** URLs whose exact host and port are allowed whatever the address class; @defaultValue none */
  allowOrigins?: readonly string[];
  /** allow everything; @defaultValue false */
  open?: boolean;
  /** where git fetches mirrored repositories from (parsed by {@link parseGitMirrors}); @defaultValue none */
  gitMirrors?: readonly GitMirror[];
}

/** What {@link egressProblem} judges: the name asked for, the address it would connect to, the port. */
export interface EgressTarget {
  hostname: string;
  address: string;
  port: number;
}

// IANA's global unicast block: ipaddr.js calls every unlisted IPv6 address "unicast", including
// IPv4-compatible (::a.b.c.d) and unassigned space, which are no place to fetch from.
const GLOBAL_UNICAST_V6 = ipaddr.IPv6.parseCIDR('2000::/3');
const NAT64_WELL_KNOWN = ipaddr.IPv6.parseCIDR('64:ff9b::/96');

/** Builds an immutable egress policy; a malformed rule or origin throws `invalid-input`. */
export function egressPolicy(opts: EgressPolicyOptions = {}): EgressPolicy {
  const rules = parseEgressAllow(opts.allow ?? []);
  const origins = (opts.allowOrigins ?? []).map(parseOrigin);
  return Object.freeze({ open: opts.open === true, rules: Object.freeze(rules), origins: Object.freeze(origins), gitMirrors: Object.freeze([...(opts.gitMirrors ?? [])]) });
}

/**
 * The policy with one more origin allowed whatever its address class: for a fetch from a location
 * the operator configured (a git mirror), never for a URL a submitter gave.
 */
export function withAllowedOrigin(policy: EgressPolicy, url: string): EgressPolicy {
  return Object.freeze({ ...policy, origins: Object.freeze([...policy.origins, parseOrigin(url)]) });
}

/**
 * Parses operator exceptions: `10.0.0.0/8`, `fd00::/8`, `192.0.2.7`, `registry.internal:4873`,
 * `10.1.2.3:8080`, `[fd00::1]:443`, `mirror.internal`. A rule with a port only allows that port.
 */
export function parseEgressAllow(text: string | readonly string[]): EgressRule[] {
  const items = typeof text === 'string' ? [text] : text;
  const rules: EgressRule[] = [];
  for (const item of items) {
    for (const raw of item.split(/[\s,]+/)) {
      if (raw !== '') rules.push(Object.freeze(parseRule(raw)));
    }
  }
  return rules;
}

/** Why the policy refuses a connection, or undefined when it is allowed. */
export function egressProblem(policy: EgressPolicy, target: EgressTarget): string | undefined {
  if (policy.open) return undefined;
  const host = normalizeHost(target.hostname);
  if (policy.origins.some((o) => o.host === host && o.port === target.port)) return undefined;
  const bare = stripBrackets(target.address);
  if (isIP(bare) === 0) return `${target.address} is not an IP address`;
  const address = ipaddr.process(bare);
  for (const rule of policy.rules) {
    if (rule.port !== undefined && rule.port !== target.port) continue;
    if (rule.kind === 'host' ? rule.host === host : inRange(address, rule.cidr)) return undefined;
  }
  return addressClassProblem(address);
}

function addressClassProblem(address: Address): string | undefined {
  if (!isIPv6(address)) {
    const range = address.range();
    return range === 'unicast' ? undefined : `${address.toString()} is in the ${range} range`;
  }
  const range = address.range();
  const embedded = embeddedIPv4(address, range);
  if (embedded === 'refused') return `${address.toString()} is in the ${range} range`;
  if (embedded) {
    for (const v4 of embedded) {
      const problem = addressClassProblem(v4);
      if (problem) return `${address.toString()} embeds ${v4.toString()}, which is in the ${v4.range()} range`;
    }
    return undefined;
  }
  if (range !== 'unicast') return `${address.toString()} is in the ${range} range`;
  if (!address.match(GLOBAL_UNICAST_V6)) return `${address.toString()} is outside global unicast 2000::/3`;
  return undefined;
}

/** The IPv4 addresses an IPv6 address carries to the IPv4 internet, by its range's own layout. */
function embeddedIPv4(address: IPv6, range: string): IPv4[] | 'refused' | undefined {
  const bytes = address.toByteArray();
  const v4 = (from: number, flip = false): IPv4 => new ipaddr.IPv4(bytes.slice(from, from + 4).map((b) => (flip ? 255 - b : b)));
  switch (range) {
    case 'ipv4Mapped':
      return [address.toIPv4Address()];
    case 'rfc6145':
      return [v4(12)];
    case 'rfc6052':
      // 64:ff9b:1::/48 is a site's own NAT64 (RFC 8215), whose layout only that site knows.
      return address.match(NAT64_WELL_KNOWN) ? [v4(12)] : 'refused';
    case '6to4':
      return [v4(2)];
    case 'teredo':
      // RFC 4380: the server address in clear, the client address inverted.
      return [v4(4), v4(12, true)];
    default:
      return undefined;
  }
}

function isIPv6(address: Address): address is IPv6 {
  return address.kind() === 'ipv6';
}

function inRange(address: Address, cidr: string): boolean {
  const range = ipaddr.parseCIDR(cidr);
  return address.kind() === range[0].kind() && address.match(range);
}

function parseRule(raw: string): EgressRule {
  const bad = (why: string): QuorumError => new QuorumError('invalid-input', `egress allow rule "${raw}" is not usable: ${why}`);
  if (raw.includes('/')) {
    if (!ipaddr.isValidCIDR(raw) || !isIP(raw.slice(0, raw.indexOf('/')))) throw bad('expected a CIDR such as 10.0.0.0/8 or fd00::/8');
    const [net, bits] = ipaddr.parseCIDR(raw);
    return { kind: 'range', cidr: `${net.toString()}/${bits}` };
  }
  const bracketed = /^\[([^\]]+)\](?::(.*))?$/.exec(raw);
  if (bracketed) {
    if (isIP(bracketed[1]!) !== 6) throw bad('expected an IPv6 address in brackets');
    return withPort(ipRule(bracketed[1]!), bracketed[2], bad);
  }
  if (isIP(raw) !== 0) return ipRule(raw);
  const colon = raw.lastIndexOf(':');
  if (raw.indexOf(':') !== colon) throw bad('write an IPv6 address with a port as [address]:port');
  const host = colon === -1 ? raw : raw.slice(0, colon);
  const port = colon === -1 ? undefined : raw.slice(colon + 1);
  if (isIP(host) === 4) return withPort(ipRule(host), port, bad);
  if (!isHostName(host)) throw bad('expected a CIDR, an IP address, a host name, or one of these with :port');
  return withPort({ kind: 'host', host: normalizeHost(host) }, port, bad);
}

function ipRule(ip: string): EgressRule {
  const address = ipaddr.process(ip);
  return { kind: 'range', cidr: `${address.toString()}/${address.kind() === 'ipv4' ? 32 : 128}` };
}

function withPort(rule: EgressRule, port: string | undefined, bad: (why: string) => QuorumError): EgressRule {
  if (port === undefined) return rule;
  if (!/^[0-9]{1,5}$/.test(port) || Number(port) < 1 || Number(port) > 65535) throw bad('the port must be a number from 1 to 65535');
  return { ...rule, port: Number(port) };
}

function parseOrigin(text: string): EgressOrigin {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new QuorumError('invalid-input', `egress origin "${text}" is not a URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new QuorumError('invalid-input', `egress origin "${text}" must be an http: or https: URL`);
  }
  const port = url.port === '' ? (url.protocol === 'https:' ? 443 : 80) : Number(url.port);
  return Object.freeze({ host: normalizeHost(url.hostname), port });
}

function isHostName(text: string): boolean {
  const name = text.endsWith('.') ? text.slice(0, -1) : text;
  return name.length > 0 && name.length <= 253 && name.split('.').every((label) => /^[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?$/.test(label));
}

function stripBrackets(host: string): string {
  return host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
}

/** Names compare case-insensitively without a trailing dot; IP literals compare in canonical form. */
function normalizeHost(hostname: string): string {
  const bare = stripBrackets(hostname);
  if (isIP(bare) !== 0) return ipaddr.process(bare).toString();
  const lower = bare.toLowerCase();
  return lower.endsWith('.') ? lower.slice(0, -1) : lower;
}

/**
 * The part of a client address that one party controls, for rate limits: the address itself for
 * IPv4 (and IPv4-mapped IPv6), the /64 network for IPv6 (one host usually holds a whole /64).
 */
export function clientNetwork(address: string): string {
  let parsed: ipaddr.IPv4 | ipaddr.IPv6;
  try {
    parsed = ipaddr.parse(address);
  } catch {
    return address;
  }
  if (parsed.kind() === 'ipv6') {
    const v6 = parsed as ipaddr.IPv6;
    if (v6.isIPv4MappedAddress()) return v6.toIPv4Address().toString();
    return `${v6.parts
      .slice(0, 4)
      .map((p) => p.toString(16))
      .join(':')}::/64`;
  }
  return parsed.toString();
}
