// Header rules of the forwarding path: framing checks that keep ambiguous requests out,
// hop-by-hop stripping both ways, and X-Forwarded-* / Forwarded (RFC 7239).
import { randomBytes, randomUUID } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import type { ClientRequest } from './client-connection.ts';

/** RFC 9110 §7.6.1 connection-specific fields, plus the legacy ones proxies strip. `expect` is handled here (Node answers 100-continue itself). */
export const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'proxy-authenticate', 'proxy-authorization', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'expect', 'http2-settings']);
/** Fields that may not be named in Connection (they would be stripped after routing or framing relied on them). */
const FRAMING_FIELDS = ['host', 'content-length', 'transfer-encoding'] as const;
/** A path segment that is `.` or `..`, literally or percent-encoded. */
const DOT_SEGMENT = /\/(?:\.|%2e){1,2}(?:\/|$)/i;
/** On an upgrade the Connection/Upgrade pair is the point of the request and travels on. */
const HOP_BY_HOP_UPGRADE = new Set([...HOP_BY_HOP].filter((name) => name !== 'connection' && name !== 'upgrade'));

/**
 * Why a request the parser accepted is still ambiguous, or undefined when it is fine: Connection
 * naming Host, Content-Length or Transfer-Encoding. The parser (http1-request-parser.ts) already
 * refuses the framing problems themselves: Content-Length with Transfer-Encoding, a repeated or
 * malformed Content-Length, Transfer-Encoding other than exactly chunked or on HTTP/1.0, a
 * repeated Host; see test/proxy/forwarding.test.ts.
 */
export function framingProblem(headers: IncomingHttpHeaders): string | undefined {
  // A field named in Connection is stripped before forwarding: Host would be routed on and then
  // dropped, and the framing fields would change how the backend reads the body.
  const named = connectionTokens(headers);
  if (named !== undefined) for (const field of FRAMING_FIELDS) if (named.has(field)) return `Connection names ${field}`;
  return undefined;
}

/** RFC 3986 §5.2.4 remove_dot_segments on an origin-form target's path (`.` and `..` also as `%2e`); the query is kept as is. */
export function removeDotSegments(target: string): string {
  const queryAt = target.indexOf('?');
  const path = queryAt === -1 ? target : target.slice(0, queryAt);
  if (!DOT_SEGMENT.test(path)) return target;
  const segments = path.split('/');
  const out: string[] = [];
  for (let i = 1; i < segments.length; i++) {
    const segment = segments[i]!;
    const dots = segment.length <= 6 ? segment.toLowerCase().replaceAll('%2e', '.') : segment;
    if (dots === '..') out.pop();
    else if (dots !== '.') out.push(segment);
    // `/a/.` and `/a/b/..` end in a directory: keep the trailing slash.
    if ((dots === '.' || dots === '..') && i === segments.length - 1) out.push('');
  }
  return `/${out.join('/')}${queryAt === -1 ? '' : target.slice(queryAt)}`;
}

/** Fields the proxy sets on every request to a backend (from the client's own when trusted or valid). */
const MANAGED = new Set(['x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', 'forwarded', 'traceparent', 'tracestate', 'x-request-id']);
const TRACEPARENT = /^00-(?!0{32})[0-9a-f]{32}-(?!0{16})[0-9a-f]{16}-[0-9a-f]{2}$/;
const REQUEST_ID = /^[\x21-\x7e]{1,128}$/;

interface Managed {
  'x-forwarded-for': string;
  'x-forwarded-proto': string;
  'x-forwarded-host': string;
  forwarded: string;
  traceparent: string;
  /** Undefined when the client sent none or its traceparent was replaced. */
  tracestate: string | undefined;
  'x-request-id': string;
}

/**
 * The managed fields' values: X-Forwarded-For/-Proto/-Host and Forwarded (the client's kept and
 * appended to when trusted), and the trace context (docs/tracing.md): a valid W3C traceparent (with
 * its tracestate) and an x-request-id pass through; a request without them gets new ones, so the
 * app's and sessiond's log lines share its ids.
 */
function managedFields(req: ClientRequest, trust: boolean): Managed {
  const incoming = req.headers;
  const ip = clientAddress(req);
  const proto = 'http'; // the data listener is plain HTTP (TLS ends in front of it)
  const host = incoming.host ?? '';
  const xff = incoming['x-forwarded-for'];
  const forwarded = incoming['forwarded'];
  const safeHost = host.includes('"') || host.includes('\\') ? host.replace(/["\\]/g, '') : host;
  const element = `for=${forwardedNode(ip)};host="${safeHost}";proto=${proto}`;
  const traceparent = incoming['traceparent'];
  const traced = typeof traceparent === 'string' && TRACEPARENT.test(traceparent);
  const tracestate = incoming['tracestate'];
  const requestId = incoming['x-request-id'];
  return {
    'x-forwarded-for': trust && xff ? `${xff}, ${ip}` : ip,
    'x-forwarded-proto': trust && incoming['x-forwarded-proto'] ? (incoming['x-forwarded-proto'] as string) : proto,
    'x-forwarded-host': trust && incoming['x-forwarded-host'] ? (incoming['x-forwarded-host'] as string) : host,
    forwarded: trust && forwarded ? `${forwarded}, ${element}` : element,
    traceparent: traced ? traceparent : `00-${randomHex(16)}-${randomHex(8)}-00`,
    tracestate: traced && typeof tracestate === 'string' ? tracestate : undefined,
    'x-request-id': typeof requestId === 'string' && REQUEST_ID.test(requestId) ? requestId : randomUUID(),
  };
}

/** Request headers for the backend as an object (learned pins rewrite it; upgrades): hop-by-hop removed, Host kept, the managed fields set. */
export function upstreamRequestHeaders(req: ClientRequest, trust: boolean, upgrade = false): Record<string, string | string[]> {
  const incoming = req.headers;
  const drop = connectionTokens(incoming);
  const hop = upgrade ? HOP_BY_HOP_UPGRADE : HOP_BY_HOP;
  const out: Record<string, string | string[]> = {};
  for (const name in incoming) {
    if (hop.has(name) || MANAGED.has(name) || (drop !== undefined && drop.has(name))) continue;
    const value = incoming[name];
    if (value !== undefined) out[name] = value;
  }
  if (upgrade) {
    out['connection'] = 'Upgrade';
    if (incoming['upgrade'] !== undefined) out['upgrade'] = incoming['upgrade'];
  }
  const managed = managedFields(req, trust);
  for (const name of MANAGED) {
    const value = managed[name as keyof Managed];
    if (value !== undefined) out[name] = value;
  }
  return out;
}

/**
 * The same fields as upstreamRequestHeaders, as the lines of the request head (each with its CRLF;
 * the values come from the request parser or from here, so none holds CR, LF or NUL), and the
 * request's x-request-id: no second header object per request.
 */
export function upstreamRequestLines(req: ClientRequest, trust: boolean): { lines: string; requestId: string } {
  const incoming = req.headers;
  const drop = connectionTokens(incoming);
  let lines = '';
  for (const name in incoming) {
    if (HOP_BY_HOP.has(name) || MANAGED.has(name) || (drop !== undefined && drop.has(name))) continue;
    const value = incoming[name];
    if (typeof value === 'string') lines += `${name}: ${value}\r\n`;
    else if (value !== undefined) for (const item of value) lines += `${name}: ${item}\r\n`;
  }
  const m = managedFields(req, trust);
  lines += `x-forwarded-for: ${m['x-forwarded-for']}\r\nx-forwarded-proto: ${m['x-forwarded-proto']}\r\nx-forwarded-host: ${m['x-forwarded-host']}\r\nforwarded: ${m.forwarded}\r\ntraceparent: ${m.traceparent}\r\n`;
  if (m.tracestate !== undefined) lines += `tracestate: ${m.tracestate}\r\n`;
  return { lines: `${lines}x-request-id: ${m['x-request-id']}\r\n`, requestId: m['x-request-id'] };
}

/** Random bytes drawn in 4 KiB batches: one getrandom per 170 minted trace ids, not two per request (issue 10). */
const RANDOM_POOL_BYTES = 4096;
let randomPool = Buffer.alloc(0);
let randomOffset = 0;

function randomHex(bytes: number): string {
  if (randomOffset + bytes > randomPool.length) {
    randomPool = randomBytes(RANDOM_POOL_BYTES);
    randomOffset = 0;
  }
  randomOffset += bytes;
  return randomPool.toString('hex', randomOffset - bytes, randomOffset);
}

/** Response headers for the client: the backend's minus hop-by-hop, plus `extra` (x-stickless-*), Set-Cookie merged. */
export function clientResponseHeaders(
  upstream: IncomingHttpHeaders,
  backendId: string,
  affinity: string,
  setCookie: string | undefined,
): Record<string, string | string[]> {
  const drop = connectionTokens(upstream);
  const out: Record<string, string | string[]> = {};
  for (const name in upstream) {
    if (HOP_BY_HOP.has(name) || (drop !== undefined && drop.has(name))) continue;
    const value = upstream[name];
    if (value !== undefined) out[name] = value;
  }
  out['x-stickless-backend'] = backendId;
  out['x-stickless-affinity'] = affinity;
  if (setCookie !== undefined) {
    const existing = out['set-cookie'];
    out['set-cookie'] = existing === undefined ? [setCookie] : [...(Array.isArray(existing) ? existing : [existing]), setCookie];
  }
  return out;
}

function connectionTokens(headers: IncomingHttpHeaders): Set<string> | undefined {
  const connection = headers.connection;
  if (connection === undefined) return undefined;
  // Nearly every message says just `keep-alive` (node backends on every response) or `close`:
  // nothing to strip, and no split/map/filter/Set for it (issue 10, hot path).
  if (connection.length <= 10 && /^(?:keep-alive|close|upgrade)$/i.test(connection)) return undefined;
  const tokens = connection.toLowerCase().split(',').map((t) => t.trim()).filter((t) => t !== 'close' && t !== 'keep-alive' && t !== 'upgrade');
  return tokens.length === 0 ? undefined : new Set(tokens);
}

/** The client's address, IPv4-mapped IPv6 unwrapped. */
export function clientAddress(req: ClientRequest): string {
  const address = req.socket.remoteAddress ?? '';
  return address.startsWith('::ffff:') ? address.slice(7) : address;
}

function forwardedNode(ip: string): string {
  return ip.includes(':') ? `"[${ip}]"` : ip;
}
