// Request → route. Pure and immutable: built once per configuration (or runtime mode change) and
// only read afterwards. The most specific route wins: the longest path prefix, and between equal
// prefixes a route naming the request's host beats one that matches any host.

export interface RouteMatch {
  /** Matches the path itself and anything below it on a segment boundary (`/cart` matches `/cart`, `/cart/1`, `/cart?x`, not `/cartoon`). */
  readonly pathPrefix: string;
  /** Lower-case host without port; undefined matches any host. */
  readonly host?: string | undefined;
}

export class Router<R extends { readonly match: RouteMatch }> {
  readonly #byHost = new Map<string, readonly R[]>();
  readonly #anyHost: readonly R[];

  constructor(routes: readonly R[]) {
    const bySpecificity = (a: R, b: R) =>
      b.match.pathPrefix.length - a.match.pathPrefix.length || Number(b.match.host !== undefined) - Number(a.match.host !== undefined);
    this.#anyHost = routes.filter((r) => r.match.host === undefined).sort(bySpecificity);
    const hosts = new Set(routes.flatMap((r) => (r.match.host === undefined ? [] : [r.match.host])));
    for (const host of hosts) {
      this.#byHost.set(host, [...routes.filter((r) => r.match.host === host), ...this.#anyHost].sort(bySpecificity));
    }
  }

  /** The route for a Host header value (any case, port allowed) and a request target (path + query). */
  match(hostHeader: string | undefined, path: string): R | undefined {
    const candidates = this.#byHost.size === 0 || hostHeader === undefined ? this.#anyHost : (this.#byHost.get(normalizeHost(hostHeader)) ?? this.#anyHost);
    for (const route of candidates) {
      if (prefixMatches(route.match.pathPrefix, path)) return route;
    }
    return undefined;
  }
}

export function prefixMatches(prefix: string, path: string): boolean {
  if (!path.startsWith(prefix)) return false;
  if (path.length === prefix.length || prefix.endsWith('/')) return true;
  const next = path.charCodeAt(prefix.length);
  return next === 47 /* / */ || next === 63 /* ? */;
}

/** `Example.COM:8080` → `example.com`; `[::1]:8080` → `[::1]`. */
export function normalizeHost(host: string): string {
  const lower = host.toLowerCase();
  if (lower.startsWith('[')) {
    const end = lower.indexOf(']');
    return end === -1 ? lower : lower.slice(0, end + 1);
  }
  const colon = lower.indexOf(':');
  return colon === -1 ? lower : lower.slice(0, colon);
}
