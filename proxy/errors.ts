// The proxy's one errors module. Every failure a client or operator can see has a stable
// `PRX_ERR_*` code and the HTTP status it is answered with; this file is the only place a code
// becomes a response. docs/proxy.md has the table, and test/proxy/errors-documented.test.ts keeps it
// in step with PROXY_ERROR_STATUS.

/** What an error is written to: the data plane's ClientResponse or the admin API's ServerResponse. */
export interface ErrorResponseTarget {
  readonly headersSent: boolean;
  destroy(): unknown;
  writeHead(status: number, headers: Record<string, string | string[] | number>): unknown;
  end(body: string): unknown;
}

/**
 * Code → HTTP status. Callers match on the code, never on messages.
 */
export const PROXY_ERROR_STATUS = {
  /** The configuration file (or an admin-supplied fragment) failed validation; every problem is listed by path. */
  PRX_ERR_CONFIG_INVALID: 500,
  /** The request is malformed or ambiguous (Content-Length with Transfer-Encoding, duplicate Content-Length, ...). Never forwarded. */
  PRX_ERR_BAD_REQUEST: 400,
  /** The request headers exceed the server's header size limit. */
  PRX_ERR_HEADERS_TOO_LARGE: 431,
  /** The client did not send its headers, its whole request, or the next body chunk in time. Never forwarded whole; the connection is closed. */
  PRX_ERR_REQUEST_TIMEOUT: 408,
  /** The backend already has its limit of connections held by request bodies still arriving (pool maxUploadConnections). */
  PRX_ERR_TOO_MANY_UPLOADS: 503,
  /** No route matches the request's host and path. */
  PRX_ERR_NO_ROUTE: 404,
  /** The route's pool has no backend that is up and not draining. */
  PRX_ERR_NO_HEALTHY_UPSTREAM: 503,
  /** Hard affinity: the pinned backend is down and the route fails closed (Retry-After is set). */
  PRX_ERR_PINNED_UPSTREAM_DOWN: 503,
  /** Hard affinity on a learned key: the request carries a session value this proxy did not issue (forged, altered, or signed with a retired key). */
  PRX_ERR_UNKNOWN_LEARNED_PIN: 404,
  /** The backend refused or did not accept the connection, and the request could not be retried. */
  PRX_ERR_UPSTREAM_CONNECT: 502,
  /** The backend closed the connection before the response was complete. */
  PRX_ERR_UPSTREAM_RESET: 502,
  /** The backend sent something that is not valid HTTP. */
  PRX_ERR_UPSTREAM_PROTOCOL: 502,
  /** The backend did not send response headers (or the next body chunk) in time. */
  PRX_ERR_UPSTREAM_TIMEOUT: 504,
  /** The proxy is shutting down and takes no new requests. */
  PRX_ERR_SHUTTING_DOWN: 503,
  /** Admin API: missing or wrong bearer token. */
  PRX_ERR_UNAUTHORIZED: 401,
  /** Admin API: no such route, pool, backend or endpoint. */
  PRX_ERR_NOT_FOUND: 404,
  /** Admin API: the request body or a parameter is invalid; the message names it. */
  PRX_ERR_INVALID_ARGUMENT: 400,
  /** Admin API: the change conflicts with current state (duplicate backend id). */
  PRX_ERR_CONFLICT: 409,
  /** Anything else: a bug. The response carries a generic message; the log has the details. */
  PRX_ERR_INTERNAL: 500,
} as const;

export type ProxyErrorCode = keyof typeof PROXY_ERROR_STATUS;
export const PROXY_ERROR_CODES = Object.keys(PROXY_ERROR_STATUS) as ProxyErrorCode[];

/** Messages sent to HTTP clients: fixed per code so nothing internal leaks. */
const PUBLIC_MESSAGES: Record<ProxyErrorCode, string> = {
  PRX_ERR_CONFIG_INVALID: 'proxy configuration is invalid',
  PRX_ERR_BAD_REQUEST: 'malformed or ambiguous request',
  PRX_ERR_HEADERS_TOO_LARGE: 'request headers too large',
  PRX_ERR_REQUEST_TIMEOUT: 'the request did not arrive in time',
  PRX_ERR_TOO_MANY_UPLOADS: 'too many uploads in progress; retry later',
  PRX_ERR_NO_ROUTE: 'no route matches this request',
  PRX_ERR_NO_HEALTHY_UPSTREAM: 'no healthy backend is available',
  PRX_ERR_PINNED_UPSTREAM_DOWN: 'the pinned backend is down; retry later',
  PRX_ERR_UNKNOWN_LEARNED_PIN: 'unknown session value; start a new session without it',
  PRX_ERR_UPSTREAM_CONNECT: 'could not connect to the backend',
  PRX_ERR_UPSTREAM_RESET: 'the backend closed the connection',
  PRX_ERR_UPSTREAM_PROTOCOL: 'the backend sent an invalid response',
  PRX_ERR_UPSTREAM_TIMEOUT: 'the backend did not answer in time',
  PRX_ERR_SHUTTING_DOWN: 'the proxy is shutting down',
  PRX_ERR_UNAUTHORIZED: 'missing or invalid bearer token',
  PRX_ERR_NOT_FOUND: 'not found',
  PRX_ERR_INVALID_ARGUMENT: 'invalid argument',
  PRX_ERR_CONFLICT: 'conflict',
  PRX_ERR_INTERNAL: 'internal proxy error',
};

/** Pre-serialized bodies: an error response on the hot path costs no JSON.stringify. */
const PUBLIC_BODIES = Object.fromEntries(
  PROXY_ERROR_CODES.map((code) => [code, JSON.stringify({ error: { code, message: PUBLIC_MESSAGES[code] } })]),
) as Record<ProxyErrorCode, string>;

export interface ProxyErrorOptions extends ErrorOptions {
  /** Seconds a client should wait before retrying; sent as Retry-After. */
  retryAfterSeconds?: number;
  /** Validation problems, one `path: message` per entry (PRX_ERR_CONFIG_INVALID, PRX_ERR_INVALID_ARGUMENT). */
  issues?: readonly string[];
}

/** The proxy's error class. `status` is the HTTP status the code is answered with. */
export class ProxyError extends Error {
  readonly code: ProxyErrorCode;
  readonly status: number;
  readonly retryAfterSeconds: number | undefined;
  readonly issues: readonly string[];

  constructor(code: ProxyErrorCode, message: string, options: ProxyErrorOptions = {}) {
    super(message, options);
    this.name = 'ProxyError';
    this.code = code;
    this.status = PROXY_ERROR_STATUS[code];
    this.retryAfterSeconds = options.retryAfterSeconds;
    this.issues = options.issues ?? [];
  }
}

/**
 * Answers `res` with the small JSON body of `code`. `extraHeaders` carries the x-stickless-*
 * headers. With `detail`, the message is the caller's (admin API); without, the fixed public one.
 */
export function sendError(
  res: ErrorResponseTarget,
  code: ProxyErrorCode,
  extraHeaders?: Record<string, string | string[]>,
  detail?: { message: string; issues?: readonly string[]; retryAfterSeconds?: number | undefined },
): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body =
    detail === undefined
      ? PUBLIC_BODIES[code]
      : JSON.stringify({ error: { code, message: detail.message, ...(detail.issues?.length ? { issues: detail.issues } : {}) } });
  const headers: Record<string, string | string[] | number> = {
    ...extraHeaders,
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
  };
  if (detail?.retryAfterSeconds !== undefined) headers['retry-after'] = String(detail.retryAfterSeconds);
  res.writeHead(PROXY_ERROR_STATUS[code], headers);
  res.end(body);
}

/** Answers with a ProxyError (any other error becomes PRX_ERR_INTERNAL with a generic message). */
export function sendProxyError(res: ErrorResponseTarget, error: unknown, extraHeaders?: Record<string, string | string[]>): void {
  if (error instanceof ProxyError) {
    sendError(res, error.code, extraHeaders, { message: error.message, issues: error.issues, retryAfterSeconds: error.retryAfterSeconds });
  } else {
    sendError(res, 'PRX_ERR_INTERNAL', extraHeaders);
  }
}

/** Raw HTTP/1.1 error bytes for a socket with no response object (a request the connection refused, an upgrade). */
export function rawErrorResponse(code: ProxyErrorCode, extraHeaders: Record<string, string> = {}, retryAfterSeconds?: number): string {
  const body = PUBLIC_BODIES[code];
  let head = `HTTP/1.1 ${PROXY_ERROR_STATUS[code]} ${statusText(PROXY_ERROR_STATUS[code])}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n`;
  for (const [name, value] of Object.entries(extraHeaders)) head += `${name}: ${value}\r\n`;
  if (retryAfterSeconds !== undefined) head += `retry-after: ${retryAfterSeconds}\r\n`;
  return `${head}\r\n${body}`;
}

function statusText(status: number): string {
  switch (status) {
    case 400: return 'Bad Request';
    case 401: return 'Unauthorized';
    case 404: return 'Not Found';
    case 408: return 'Request Timeout';
    case 409: return 'Conflict';
    case 431: return 'Request Header Fields Too Large';
    case 502: return 'Bad Gateway';
    case 503: return 'Service Unavailable';
    case 504: return 'Gateway Timeout';
    default: return 'Internal Server Error';
  }
}
