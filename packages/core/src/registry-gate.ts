/** A package as a registry names it, in purl terms (the namespace as the purl spells it, e.g. `@scope`). */
export interface GatePackage {
  namespace: string | undefined;
  name: string;
}

/** What one request to a gate in front of an ecosystem's registry asks for. */
export type GateRoute =
  /** the package's metadata document (every version, where its artifact is, what it must hash to) */
  | { kind: 'metadata'; pkg: GatePackage }
  /** the artifact of one version, at the path the gate itself wrote into the metadata it served */
  | { kind: 'artifact'; pkg: GatePackage; version: string }
  /** the client's "is the registry there" request */
  | { kind: 'ping' }
  /** anything else: publishing, searching, other endpoints the gate does not serve */
  | { kind: 'unsupported'; why: string };

/** One version a metadata document lists. */
export interface GateVersion {
  version: string;
  /** where the registry says its artifact is */
  url: string;
  /** the Subresource-Integrity string the registry gives for it (`sha512-…`), if any */
  integrity: string | undefined;
  /** a digest the registry gives besides (npm's hex sha1 `shasum`), as an SRI string, if any */
  legacyIntegrity: string | undefined;
  /** when the registry says the version was published, if this document says (a cooldown reads it) */
  published: Date | undefined;
}

/** A registry's metadata document of one package, read by the gate. */
export interface GateMetadata {
  versions: ReadonlyMap<string, GateVersion>;
  /**
   * The document as the gate serves it: every artifact URL pointing at the gate (`gateBase` + the
   * protocol's own artifact path), the `hidden` versions left out, and tags that named a hidden
   * version moved to the newest kept version below it (or dropped when there is none).
   */
  serve(gateBase: string, hidden: ReadonlySet<string>): Uint8Array;
}

/**
 * The registry protocol of one ecosystem, for a gate that serves its clients: which request is
 * which, how its metadata is read and rewritten, how a refusal reads in its client. Pure.
 */
export interface RegistryGate {
  /** what a request asks for, from its method and its path as sent (percent-encoded, query included) */
  route(method: string, rawPath: string): GateRoute;
  /** the upstream URL of a package's metadata document */
  metadataUrl(pkg: GatePackage, upstream: string): string;
  /**
   * The `accept` header to ask the upstream for the metadata with, given the client's; undefined
   * asks for the full document, which says when each version was published.
   */
  metadataAccept(clientAccept: string | undefined): string;
  /**
   * The `accept` header of the smallest metadata document that still lists every version: what a
   * watcher polls (it may leave out when each version was published).
   */
  readonly versionsAccept: string;
  /**
   * The registry's feed of changed packages, where its protocol has one: what a watcher reads
   * instead of every package's metadata at each poll.
   */
  readonly changes?: ChangesFeed;
  /** the metadata document of `pkg`, or undefined when the body is not one (hostile, or another package's) */
  readMetadata(pkg: GatePackage, body: Uint8Array): GateMetadata | undefined;
  /** a refusal's body as the ecosystem's client shows it to its user */
  refusal(message: string): { contentType: string; body: string };
}

/** A registry's feed of changed packages (npm: CouchDB's `_changes`). Pure. */
export interface ChangesFeed {
  /** the URL of up to `limit` changes after position `since` (undefined: none, only where the feed stands now) */
  url(feed: string, since: string | undefined, limit: number): string;
  /** the packages a page names and the position after it; undefined when the body is not a page of the feed */
  read(body: Uint8Array): { changed: GatePackage[]; count: number; since: string } | undefined;
}
