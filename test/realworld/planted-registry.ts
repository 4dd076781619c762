import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';

/** A release whose published tarball was swapped for a changed copy. */
interface Planted {
  name: string;
  version: string;
  tarball: Buffer;
  path: string;
}

/**
 * The public registry as a tarball-only attacker leaves it: every request is answered from the
 * upstream registry, except that planted versions' packuments name a changed tarball served here
 * (with that tarball's own integrity, as a registry computes it on publish). Everything else in
 * those packuments — repository, scripts, times, other versions — is upstream's.
 */
export class PlantedRegistry {
  private readonly planted = new Map<string, Planted[]>();
  private readonly tarballs = new Map<string, Buffer>();
  private server: Server | undefined;
  url = '';

  constructor(private readonly upstream: string) {}

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      void this.answer(req.url ?? '/').then(
        ({ status, type, body }) => {
          res.writeHead(status, { 'content-type': type });
          if (body instanceof Readable) body.pipe(res);
          else res.end(body);
        },
        (e: unknown) => {
          res.writeHead(502, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ error: (e as Error).message }));
        },
      );
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  /** Serves `tarball` as `name@version` from now on. */
  plant(name: string, version: string, tarball: Buffer): void {
    const path = `/${name}/-/${name.split('/').pop()}-${version}.tgz`;
    this.tarballs.set(path, tarball);
    this.planted.set(name, [...(this.planted.get(name) ?? []).filter((p) => p.version !== version), { name, version, tarball, path }]);
  }

  private async answer(url: string): Promise<{ status: number; type: string; body: Buffer | string | Readable }> {
    const path = decodeURIComponent(url.split('?')[0]!);
    const tarball = this.tarballs.get(path);
    if (tarball) return { status: 200, type: 'application/octet-stream', body: tarball };
    const res = await fetch(`${this.upstream}${url}`);
    const planted = this.planted.get(path.slice(1));
    if (!planted || !res.ok) {
      return { status: res.status, type: res.headers.get('content-type') ?? 'application/octet-stream', body: res.body ? Readable.fromWeb(res.body as never) : '' };
    }
    const doc = (await res.json()) as { versions: Record<string, { dist: Record<string, unknown> }> };
    for (const p of planted) {
      const version = doc.versions[p.version];
      if (!version) continue;
      // npm's registry signatures and attestations are about the upstream tarball: a swapped one has none
      version.dist = {
        tarball: `${this.url}${p.path}`,
        integrity: `sha512-${createHash('sha512').update(p.tarball).digest('base64')}`,
        shasum: createHash('sha1').update(p.tarball).digest('hex'),
      };
    }
    return { status: 200, type: 'application/json', body: JSON.stringify(doc) };
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}
