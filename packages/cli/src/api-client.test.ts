import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiClient, CliError, normalizeServerUrl, resolveApiUrl } from './api-client.js';
import { closedPort, FakeCoordinator } from './test-support/fake-coordinator.js';
import { release, worker } from './test-support/views.js';

describe('ApiClient against a real HTTP server', () => {
  const fake = new FakeCoordinator();
  let api: ApiClient;
  beforeAll(async () => {
    await fake.start();
    api = new ApiClient({ server: `${fake.url}/` });
  });
  afterAll(() => fake.stop());

  it('posts a submission as JSON and returns the release view', async () => {
    fake.handle = () => ({ status: 202, json: release() });
    const view = await api.submitRelease({ purl: 'pkg:npm/left-pad@1.3.0', ref: 'v1.3.0' });
    expect(view.id).toBe('rel-1');
    const req = fake.requests.at(-1)!;
    expect(req.method).toBe('POST');
    expect(req.url).toBe('/v1/releases');
    expect(JSON.parse(req.body)).toEqual({ purl: 'pkg:npm/left-pad@1.3.0', ref: 'v1.3.0' });
  });

  it('sends the purl as one encoded path segment', async () => {
    fake.handle = () => ({ status: 200, json: { purl: 'pkg:npm/@scope/x@1.0.0', releases: [] } });
    await api.getPackage('pkg:npm/%40scope/x@1.0.0');
    expect(fake.requests.at(-1)!.url).toBe('/v1/packages/pkg%3Anpm%2F%2540scope%2Fx%401.0.0');
  });

  it('encodes ids in paths', async () => {
    fake.handle = () => ({ status: 200, json: release() });
    await api.getRelease('a/b c');
    expect(fake.requests.at(-1)!.url).toBe('/v1/releases/a%2Fb%20c');
  });

  it('lists workers', async () => {
    fake.handle = () => ({ status: 200, json: [worker({ id: 'worker-1' })] });
    expect((await api.listWorkers()).map((w) => w.id)).toEqual(['worker-1']);
  });

  it('fetches the key list and the attestations of a purl as one encoded segment', async () => {
    fake.handle = () => ({ status: 200, json: { v: 1, builders: [] } });
    expect(await api.getKeys()).toEqual({ v: 1, builders: [] });
    expect(fake.requests.at(-1)!.url).toBe('/v1/keys');
    await api.getAttestations('pkg:npm/%40scope/x@1.0.0');
    expect(fake.requests.at(-1)!.url).toBe('/v1/attestations/pkg%3Anpm%2F%2540scope%2Fx%401.0.0');
    expect(fake.requests.at(-1)!.headers.authorization).toBeUndefined();
  });

  it('sends the admin token as a bearer token to the admin endpoints only', async () => {
    fake.handle = () => ({ status: 201, json: { workerId: 'w', operator: 'o', token: 't', expiresAt: 'x' } });
    await api.enrolWorker({ workerId: 'w', operator: 'o' }, 'secret');
    expect(fake.requests.at(-1)).toMatchObject({ method: 'POST', url: '/v1/admin/workers' });
    expect(fake.requests.at(-1)!.headers.authorization).toBe('Bearer secret');
    expect(fake.requests.at(-1)!.headers['content-type']).toBe('application/json');
    fake.handle = () => ({ status: 200, json: [] });
    await api.listRejections('secret');
    expect(fake.requests.at(-1)).toMatchObject({ method: 'GET', url: '/v1/admin/rejections' });
    expect(fake.requests.at(-1)!.headers.authorization).toBe('Bearer secret');
    await api.listWorkers();
    expect(fake.requests.at(-1)!.headers.authorization).toBeUndefined();
  });

  it('turns an API error body into a CliError with the message, code and status', async () => {
    fake.handle = () => ({ status: 400, json: { error: { code: 'invalid-purl', message: 'malformed purl "x"' } } });
    const err = await api.submitRelease({ purl: 'x' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CliError);
    expect(err).toMatchObject({ code: 'http', message: 'malformed purl "x"', status: 400, apiCode: 'invalid-purl', exitCode: 1 });
  });

  it('describes an error answer that is not JSON', async () => {
    fake.handle = () => ({ status: 502, text: '<html>Bad Gateway</html>', contentType: 'text/html' });
    const err = await api.getRelease('r').catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'http', status: 502 });
    expect((err as Error).message).toBe(`GET /v1/releases/r failed: HTTP 502 Bad Gateway from ${fake.url}: <html>Bad Gateway</html>`);
  });

  it('rejects a success answer that is not JSON', async () => {
    fake.handle = () => ({ status: 200, text: 'hello' });
    await expect(api.listWorkers()).rejects.toMatchObject({ code: 'bad-answer' });
  });

  it('reports a dropped connection as unreachable', async () => {
    fake.handle = () => ({ destroy: true });
    await expect(api.listWorkers()).rejects.toMatchObject({ code: 'unreachable' });
  });

  it('returns the log response unread, with its bytes unchanged', async () => {
    const bytes = Buffer.from([0x00, 0xff, 0x0a, 0xc3, 0x28, 0x41]);
    fake.handle = () => ({ status: 200, text: bytes });
    const res = await api.rebuildLog('rb-1');
    expect(Buffer.from(await res.arrayBuffer())).toEqual(bytes);
    expect(fake.requests.at(-1)!.url).toBe('/v1/rebuilds/rb-1/log');
  });

  it('gives up on a coordinator that does not answer in time', async () => {
    const slow = new FakeCoordinator();
    await slow.start();
    slow.handle = () => ({ hang: true });
    const client = new ApiClient({ server: slow.url, timeoutMs: 200 });
    await expect(client.listWorkers()).rejects.toMatchObject({ code: 'timeout' });
    await slow.stop();
  });
});

describe('ApiClient without a coordinator', () => {
  it('says how to start one when the connection is refused', async () => {
    const port = await closedPort();
    const api = new ApiClient({ server: `http://127.0.0.1:${port}` });
    await expect(api.listWorkers()).rejects.toMatchObject({
      code: 'unreachable',
      exitCode: 1,
      message: `cannot reach the coordinator at http://127.0.0.1:${port} (is \`quorum up\` running?)`,
    });
  });
});

describe('server URLs', () => {
  it.each([
    ['http://127.0.0.1:8080', 'http://127.0.0.1:8080'],
    ['http://127.0.0.1:8080/', 'http://127.0.0.1:8080'],
    ['https://farm.example/quorum/', 'https://farm.example/quorum'],
  ])('normalises %s', (input, out) => {
    expect(normalizeServerUrl(input)).toBe(out);
  });

  it.each([['localhost:8080'], ['not a url'], ['ftp://farm.example']])('rejects %s as a usage error', (input) => {
    expect(() => normalizeServerUrl(input)).toThrow(CliError);
  });

  it.each([
    ['http://h:1', '/v1/rebuilds/x/log', 'http://h:1/v1/rebuilds/x/log'],
    ['https://h/prefix', '/v1/rebuilds/x/log', 'https://h/prefix/v1/rebuilds/x/log'],
    ['https://h/prefix/', 'v1/x', 'https://h/prefix/v1/x'],
    ['https://h/prefix', 'https://logs.example/x', 'https://logs.example/x'],
  ])('resolves %s + %s', (server, ref, out) => {
    expect(resolveApiUrl(server, ref)).toBe(out);
  });
});
