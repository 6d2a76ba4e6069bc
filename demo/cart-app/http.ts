// Small HTTP helpers of the shop: JSON answers, cookies, bodies and the Idempotency-Key header.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { CartRequestError } from './cart-store.ts';

const MAX_BODY_BYTES = 4096;
/** sessiond's rule for an idempotency key (server/request-validation.ts). */
const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,128}$/;

export function send(res: ServerResponse, status: number, body: unknown): void {
  if (res.headersSent) return;
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
  res.end(JSON.stringify(body));
}

export function readCookie(req: IncomingMessage, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const at = part.indexOf('=');
    if (at > 0 && part.slice(0, at).trim() === name) return part.slice(at + 1).trim();
  }
  return undefined;
}

/** `name=value` with the shop's attributes; `maxAgeS` 0 clears it. */
export function serializeCookie(name: string, value: string, maxAgeS?: number): string {
  return `${name}=${value}; Path=/; HttpOnly; SameSite=Lax${maxAgeS === undefined ? '' : `; Max-Age=${maxAgeS}`}`;
}

/**
 * The request's Idempotency-Key (IETF httpapi draft: an sf-string, so quotes are accepted and
 * removed), undefined when absent; a key sessiond would refuse is the client's mistake: 400.
 */
export function readIdempotencyKey(req: IncomingMessage): string | undefined {
  const raw = req.headers['idempotency-key'];
  if (raw === undefined) return undefined;
  const key = String(raw).trim().replace(/^"(.*)"$/, '$1');
  if (!IDEMPOTENCY_KEY.test(key)) {
    throw new CartRequestError(400, 'INVALID_IDEMPOTENCY_KEY', 'Idempotency-Key: expected 1..128 printable ASCII characters (a UUID is a good key)');
  }
  return key;
}

export async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new CartRequestError(413, 'BODY_TOO_LARGE', `body exceeds ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk);
  }
  try {
    const parsed: unknown = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}');
    if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) return parsed as Record<string, unknown>;
  } catch {
    // fall through
  }
  throw new CartRequestError(400, 'INVALID_BODY', 'body: expected a JSON object');
}
