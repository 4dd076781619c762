import { describe, expect, it } from 'vitest';
import { chooseNode } from './choose-node.js';
import { NODE_RELEASES, type NodeRelease } from './node-releases.js';

const releases: Record<string, NodeRelease> = {
  '18.20.4': { integrity: 'sha512-a', date: '2024-07-08', lts: 'Hydrogen', npm: '10.7.0' },
  '20.18.0': { integrity: 'sha512-b', date: '2024-10-03', lts: 'Iron', npm: '10.8.2' },
  '22.10.0': { integrity: 'sha512-c', date: '2024-10-16', npm: '10.9.0' },
  '23.1.0': { integrity: 'sha512-d', date: '2024-10-24', npm: '10.9.0' },
  '22.11.0': { integrity: 'sha512-e', date: '2024-10-29', lts: 'Jod', npm: '10.9.0' },
  '24.0.0': { integrity: 'sha512-f', date: '2025-05-06' },
  '26.12.1': { integrity: 'sha512-g' },
};

describe('chooseNode', () => {
  it("pins the publisher's recorded Node when the farm pins it", () => {
    expect(chooseNode('22.10.0', '>=24', '2020-01-01T00:00:00.000Z', releases)).toEqual({
      ok: true,
      version: '22.10.0',
      integrity: 'sha512-c',
      npm: '10.9.0',
      inferred: false,
      why: "the publisher's Node 22.10.0, as the registry recorded it",
    });
  });

  it('leaves npm unknown when the recorded release does not say which npm it bundles', () => {
    const choice = chooseNode('24.0.0', undefined, undefined, releases);
    expect(choice).toMatchObject({ ok: true, version: '24.0.0', integrity: 'sha512-f', inferred: false });
    expect(choice.ok && choice.npm).toBeUndefined();
  });

  it('refuses a recorded Node the farm does not pin', () => {
    for (const recorded of ['21.0.0', '22.10.0-nightly20241001', 'constructor']) {
      const choice = chooseNode(recorded, undefined, '2024-11-02T10:00:00.000Z', releases);
      expect(choice.ok).toBe(false);
      expect(!choice.ok && choice.message).toContain(`Node "${recorded}"`);
      expect(!choice.ok && choice.message).toContain('not among the Node releases this farm pins');
    }
  });

  it('chooses the newest LTS release out on the publish day when nothing is recorded', () => {
    expect(chooseNode(undefined, '>=18', '2024-10-27T12:00:00.000Z', releases)).toEqual({
      ok: true,
      version: '20.18.0',
      integrity: 'sha512-b',
      npm: '10.8.2',
      inferred: true,
      why: "the registry did not record the publisher's Node; chose 20.18.0, the newest LTS release as of 2024-10-27 satisfying engines.node >=18",
    });
  });

  it('counts a release out on the publish day itself, by UTC day', () => {
    expect(chooseNode(undefined, undefined, '2024-10-29T23:59:59.999Z', releases)).toMatchObject({ ok: true, version: '22.11.0' });
    expect(chooseNode(undefined, undefined, '2024-10-29T00:30:00+02:00', releases)).toMatchObject({ ok: true, version: '20.18.0' });
  });

  it('skips LTS releases the engines range excludes', () => {
    const choice = chooseNode(undefined, '^18 || ^20', '2025-01-01T00:00:00.000Z', releases);
    expect(choice).toMatchObject({ ok: true, version: '20.18.0', inferred: true });
    expect(choice.ok && choice.why).toContain('satisfying engines.node ^18 || ^20');
  });

  it('applies no constraint for an invalid engines range, and says so', () => {
    const choice = chooseNode(undefined, 'node >= fourteen', '2025-01-01T00:00:00.000Z', releases);
    expect(choice).toMatchObject({ ok: true, version: '22.11.0', inferred: true });
    expect(choice.ok && choice.why).toContain('engines.node "node >= fourteen" is not a valid semver range, so it was not applied');
  });

  it('falls back to the newest release of any kind out on the publish day when no LTS release qualifies', () => {
    const choice = chooseNode(undefined, '>=22', '2024-10-25T08:00:00.000Z', releases);
    expect(choice).toMatchObject({ ok: true, version: '23.1.0', integrity: 'sha512-d', npm: '10.9.0', inferred: true });
    expect(choice.ok && choice.why).toBe(
      "the registry did not record the publisher's Node, and no LTS release as of 2024-10-25 satisfies engines.node >=22; chose 23.1.0, the newest release as of 2024-10-25 satisfying engines.node >=22",
    );
  });

  it('falls back to the newest satisfying release when none was out on the publish day', () => {
    const choice = chooseNode(undefined, '>=24', '2024-10-25T08:00:00.000Z', releases);
    expect(choice).toMatchObject({ ok: true, version: '26.12.1', integrity: 'sha512-g', inferred: true });
    expect(choice.ok && choice.why).toContain('no release as of 2024-10-25 satisfies engines.node >=24; chose 26.12.1, the newest release the farm pins');
  });

  it('refuses when no pinned release satisfies the engines range', () => {
    expect(chooseNode(undefined, '>=30', '2025-01-01T00:00:00.000Z', releases)).toEqual({
      ok: false,
      message: 'no Node release this farm pins satisfies engines.node ">=30"',
    });
  });

  it('chooses the newest satisfying LTS release when the publish time is missing or unparseable, and says so', () => {
    const missing = chooseNode(undefined, '<22', undefined, releases);
    expect(missing).toMatchObject({ ok: true, version: '20.18.0', inferred: true });
    expect(missing.ok && missing.why).toBe("the registry did not record the publisher's Node nor the publish time; chose 20.18.0, the newest LTS release satisfying engines.node <22");
    const garbled = chooseNode(undefined, undefined, 'yesterday', releases);
    expect(garbled).toMatchObject({ ok: true, version: '22.11.0', inferred: true });
    expect(garbled.ok && garbled.why).toContain('its publish time "yesterday" is not a date');
  });

  it('pins the real table: recorded 20.18.0 gives its integrity and bundled npm', () => {
    expect(chooseNode('20.18.0', undefined, undefined)).toMatchObject({
      ok: true,
      version: '20.18.0',
      integrity: NODE_RELEASES['20.18.0']!.integrity,
      npm: '10.8.2',
      inferred: false,
    });
    expect(NODE_RELEASES['20.18.0']).toMatchObject({ date: '2024-10-03', lts: 'Iron' });
    expect(chooseNode(undefined, '>=18', '2024-11-02T00:00:00.000Z')).toMatchObject({ ok: true, version: '22.11.0', inferred: true });
  });
});
