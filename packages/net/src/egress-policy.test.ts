import { describe, expect, it } from 'vitest';
import { QuorumError } from '@quorum/core';
import { clientNetwork, egressPolicy, egressProblem, parseEgressAllow } from './egress-policy.js';

const byDefault = egressPolicy();
const allowed = (address: string, policy = byDefault, hostname = address, port = 443) => egressProblem(policy, { hostname, address, port }) === undefined;

describe('the default egress policy', () => {
  it.each([
    ['0.0.0.0', 'unspecified'],
    ['0.1.2.3', 'this network'],
    ['10.0.0.1', 'private'],
    ['10.255.255.255', 'private'],
    ['100.64.0.1', 'carrier-grade NAT'],
    ['100.100.100.200', 'Alibaba Cloud metadata (CGNAT)'],
    ['100.127.255.255', 'carrier-grade NAT'],
    ['127.0.0.1', 'loopback'],
    ['127.1.2.3', 'loopback'],
    ['169.254.169.254', 'cloud metadata (link-local)'],
    ['169.254.0.1', 'link-local'],
    ['172.16.0.1', 'private'],
    ['172.31.255.255', 'private'],
    ['192.0.0.1', 'IETF protocol assignments'],
    ['192.0.2.1', 'documentation'],
    ['192.88.99.1', '6to4 relay anycast'],
    ['192.168.1.1', 'private'],
    ['198.18.0.1', 'benchmarking'],
    ['198.19.255.255', 'benchmarking'],
    ['198.51.100.1', 'documentation'],
    ['203.0.113.1', 'documentation'],
    ['224.0.0.1', 'multicast'],
    ['239.255.255.250', 'multicast'],
    ['240.0.0.1', 'reserved'],
    ['255.255.255.255', 'broadcast'],
  ])('refuses the IPv4 address %s (%s)', (address) => {
    expect(egressProblem(byDefault, { hostname: 'example.org', address, port: 443 })).toMatch(/range/);
  });

  it.each(['1.1.1.1', '8.8.8.8', '93.184.216.34', '11.0.0.1', '100.63.255.255', '100.128.0.1', '169.253.255.255', '172.15.255.255', '172.32.0.1', '192.169.0.1', '198.20.0.1', '223.255.255.254'])(
    'allows the global IPv4 address %s',
    (address) => {
      expect(allowed(address)).toBe(true);
    },
  );

  it.each([
    ['::', 'unspecified'],
    ['::1', 'loopback'],
    ['fe80::1', 'link-local'],
    ['fe80::1%eth0', 'link-local with a zone'],
    ['fc00::1', 'unique-local'],
    ['fd00::1', 'unique-local'],
    ['fd00:ec2::254', 'AWS metadata (unique-local)'],
    ['ff02::1', 'multicast'],
    ['ff05::2', 'multicast'],
    ['fec0::1', 'deprecated site-local'],
    ['100::1', 'discard-only'],
    ['2001:db8::1', 'documentation'],
    ['2001:2::1', 'benchmarking'],
    ['::127.0.0.1', 'IPv4-compatible'],
    ['::ffff:127.0.0.1', 'IPv4-mapped loopback'],
    ['::ffff:10.0.0.1', 'IPv4-mapped private'],
    ['::ffff:169.254.169.254', 'IPv4-mapped metadata'],
    ['::ffff:0:127.0.0.1', 'IPv4-translated loopback'],
    ['64:ff9b::a9fe:a9fe', 'NAT64 of the metadata address'],
    ['64:ff9b::7f00:1', 'NAT64 of loopback'],
    ['64:ff9b::10.0.0.1', 'NAT64 of a private address'],
    ['64:ff9b:1::808:808', 'local-use NAT64'],
    ['2002:7f00:1::1', '6to4 of loopback'],
    ['2002:a9fe:a9fe::1', '6to4 of the metadata address'],
    ['2001:0:4136:e378:8000:63bf:80ff:fffe', 'Teredo with a loopback client'],
    ['2001:0:a00:1:8000:63bf:f7f7:f7f7', 'Teredo with a private server'],
    ['4000::1', 'outside global unicast'],
  ])('refuses the IPv6 address %s (%s)', (address) => {
    expect(allowed(address)).toBe(false);
  });

  it.each(['2606:4700:4700::1111', '2001:4860:4860::8888', '2a00:1450:4001:80b::200e', '::ffff:8.8.8.8', '64:ff9b::808:808', '2002:808:808::1', '2001:0:4136:e378:8000:63bf:f7f7:f7f7'])(
    'allows the global IPv6 address %s',
    (address) => {
      expect(allowed(address)).toBe(true);
    },
  );

  it('explains a refusal with the address and its range', () => {
    expect(egressProblem(byDefault, { hostname: 'metadata.internal', address: '169.254.169.254', port: 80 })).toBe('169.254.169.254 is in the linkLocal range');
    expect(egressProblem(byDefault, { hostname: 'x', address: '64:ff9b::a9fe:a9fe', port: 80 })).toMatch(/embeds 169\.254\.169\.254/);
  });

  it('refuses an address that is not an IP address', () => {
    expect(egressProblem(byDefault, { hostname: 'x', address: 'example.org', port: 80 })).toMatch(/not an IP address/);
  });
});

describe('operator exceptions', () => {
  it('allows a CIDR range, and nothing outside it', () => {
    const policy = egressPolicy({ allow: '10.0.0.0/8, fd00::/8' });
    expect(allowed('10.1.2.3', policy)).toBe(true);
    expect(allowed('::ffff:10.1.2.3', policy)).toBe(true);
    expect(allowed('fd12::1', policy)).toBe(true);
    expect(allowed('172.16.0.1', policy)).toBe(false);
    expect(allowed('fc00::1', policy)).toBe(false);
    expect(allowed('127.0.0.1', policy)).toBe(false);
  });

  it('allows one IP address on any port', () => {
    const policy = egressPolicy({ allow: ['192.168.7.7'] });
    expect(allowed('192.168.7.7', policy, '192.168.7.7', 22)).toBe(true);
    expect(allowed('192.168.7.8', policy)).toBe(false);
  });

  it('allows an ip:port rule only on that port', () => {
    const policy = egressPolicy({ allow: '127.0.0.1:4873 [::1]:8080' });
    expect(allowed('127.0.0.1', policy, '127.0.0.1', 4873)).toBe(true);
    expect(allowed('127.0.0.1', policy, '127.0.0.1', 4874)).toBe(false);
    expect(allowed('::1', policy, '::1', 8080)).toBe(true);
    expect(allowed('::1', policy, '::1', 8081)).toBe(false);
  });

  it('allows a host name whatever it resolves to, and only that name', () => {
    const policy = egressPolicy({ allow: 'registry.internal:4873,Mirror.Internal' });
    expect(allowed('10.0.0.5', policy, 'registry.internal', 4873)).toBe(true);
    expect(allowed('10.0.0.5', policy, 'registry.internal.', 4873)).toBe(true);
    expect(allowed('10.0.0.5', policy, 'registry.internal', 80)).toBe(false);
    expect(allowed('10.0.0.5', policy, 'other.internal', 4873)).toBe(false);
    expect(allowed('192.168.0.9', policy, 'mirror.internal', 22)).toBe(true);
  });

  it('allows the exact host and port of a configured origin', () => {
    const policy = egressPolicy({ allowOrigins: ['http://127.0.0.1:4873', 'https://registry.internal/', 'http://[::1]:8080/path'] });
    expect(allowed('127.0.0.1', policy, '127.0.0.1', 4873)).toBe(true);
    expect(allowed('127.0.0.1', policy, '127.0.0.1', 4874)).toBe(false);
    expect(allowed('127.0.0.1', policy, 'localhost', 4873)).toBe(false);
    expect(allowed('10.9.9.9', policy, 'registry.internal', 443)).toBe(true);
    expect(allowed('10.9.9.9', policy, 'registry.internal', 80)).toBe(false);
    expect(allowed('::1', policy, '[::1]', 8080)).toBe(true);
    expect(allowed('::1', policy, '0:0:0:0:0:0:0:1', 8080)).toBe(true);
  });

  it('allows everything when open', () => {
    const policy = egressPolicy({ open: true });
    for (const address of ['127.0.0.1', '169.254.169.254', 'fd00:ec2::254', '::']) expect(allowed(address, policy)).toBe(true);
  });

  it('is immutable', () => {
    const policy = egressPolicy({ allow: '10.0.0.0/8' });
    expect(Object.isFrozen(policy)).toBe(true);
    expect(Object.isFrozen(policy.rules)).toBe(true);
    expect(Object.isFrozen(policy.rules[0])).toBe(true);
    expect(() => (policy.rules as unknown[]).push({ kind: 'host', host: 'x' })).toThrow();
  });
});

describe('parseEgressAllow', () => {
  it('reads every rule form, separated by commas or white space', () => {
    expect(parseEgressAllow(' 10.0.0.0/8,fd00::/8\n192.0.2.7  host.internal:4873 ,10.1.2.3:8080 [fd00::1]:443 mirror.internal ::1 ')).toEqual([
      { kind: 'range', cidr: '10.0.0.0/8' },
      { kind: 'range', cidr: 'fd00::/8' },
      { kind: 'range', cidr: '192.0.2.7/32' },
      { kind: 'host', host: 'host.internal', port: 4873 },
      { kind: 'range', cidr: '10.1.2.3/32', port: 8080 },
      { kind: 'range', cidr: 'fd00::1/128', port: 443 },
      { kind: 'host', host: 'mirror.internal' },
      { kind: 'range', cidr: '::1/128' },
    ]);
    expect(parseEgressAllow(['10.0.0.0/8', 'a.internal b.internal'])).toHaveLength(3);
    expect(parseEgressAllow('')).toEqual([]);
  });

  it('reads an unbracketed IPv6 address as an address, never as address and port', () => {
    expect(parseEgressAllow('fd00::1:443')).toEqual([{ kind: 'range', cidr: 'fd00::1:443/128' }]);
  });

  it.each([
    ['10.0.0.0/33', /CIDR/],
    ['10/8', /CIDR/],
    ['host/8', /CIDR/],
    ['fd00::1::443', /\[address\]:port/],
    ['fd00:zz::1', /\[address\]:port/],
    ['[10.0.0.1]:80', /IPv6/],
    ['[fd00::1]:0', /port/],
    ['host.internal:65536', /port/],
    ['host.internal:http', /port/],
    ['bad_host!', /CIDR, an IP address, a host name/],
    ['http://registry.internal', /not usable/],
    ['-x', /not usable/],
  ])('refuses the rule %s with a clear message', (rule, message) => {
    let thrown: unknown;
    try {
      parseEgressAllow(rule);
    } catch (e) {
      thrown = e;
    }
    expect(thrown).toBeInstanceOf(QuorumError);
    expect((thrown as QuorumError).code).toBe('invalid-input');
    expect((thrown as QuorumError).message).toContain(`"${rule}"`);
    expect((thrown as QuorumError).message).toMatch(message);
  });

  it('refuses an origin that is not an http(s) URL', () => {
    expect(() => egressPolicy({ allowOrigins: ['registry.internal:4873'] })).toThrow(expect.objectContaining({ code: 'invalid-input' }));
    expect(() => egressPolicy({ allowOrigins: ['not a url'] })).toThrow(expect.objectContaining({ code: 'invalid-input' }));
  });
});

describe('clientNetwork', () => {
  it('keys an IPv4 client by its address and an IPv6 client by its /64', () => {
    expect(clientNetwork('203.0.113.7')).toBe('203.0.113.7');
    expect(clientNetwork('::ffff:203.0.113.7')).toBe('203.0.113.7');
    expect(clientNetwork('2001:db8:1:2:aaaa::1')).toBe(clientNetwork('2001:db8:1:2:bbbb::9'));
    expect(clientNetwork('2001:db8:1:2::1')).not.toBe(clientNetwork('2001:db8:1:3::1'));
    expect(clientNetwork('not an address')).toBe('not an address');
  });
});
