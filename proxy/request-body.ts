// The request body as the upstream client sees it: a Readable that starts pulling from the client only when
// the client first reads, i.e. once a connection to the backend exists. So after a connect failure
// `started` is false, not one byte has left the client socket, and the request may be retried with
// a fresh RequestBody. Destroying it (the client does on upstream errors) never destroys the client
// request, so the client still gets a proper error response.
//
// Slow clients (issue 7): readBodyPrefix() reads a small body (Content-Length up to
// listen.requestBodyBufferBytes) whole before any backend connection is taken, so a client
// trickling it holds nothing upstream. Both phases cut a client that sends no body byte for
// listen.requestBodyIdleTimeoutMs (PRX_CLIENT_BODY_TIMEOUT, answered 408). The idle clock runs
// only while the proxy waits for the client, not while backpressure from the backend pauses it.
import { Readable } from 'node:stream';

/** The start of a body, read before a backend was chosen. */
export interface BodyPrefix {
  readonly chunks: readonly Buffer[];
  /** True when the chunks are the whole body. */
  readonly complete: boolean;
}

export function bodyTimeoutError(idleMs: number): Error {
  return Object.assign(new Error(`no request body byte for ${idleMs} ms`), { code: 'PRX_CLIENT_BODY_TIMEOUT' });
}

function abortedError(): Error {
  return Object.assign(new Error('client aborted the request body'), { code: 'PRX_CLIENT_ABORTED' });
}

/**
 * Reads `req`'s body until it ends or at least `maxBytes` have arrived, then leaves it paused.
 * Rejects with PRX_CLIENT_BODY_TIMEOUT after `idleMs` (0: never) without a chunk, and with
 * PRX_CLIENT_ABORTED when the client goes away.
 */
export function readBodyPrefix(req: Readable, maxBytes: number, idleMs: number): Promise<BodyPrefix> {
  if (req.readableEnded || maxBytes === 0) return Promise.resolve({ chunks: [], complete: req.readableEnded });
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let bytes = 0;
    let timer: NodeJS.Timeout | undefined;
    const arm = () => {
      clearTimeout(timer);
      if (idleMs > 0) timer = setTimeout(() => finish(bodyTimeoutError(idleMs)), idleMs);
    };
    const onData = (chunk: Buffer) => {
      chunks.push(chunk);
      bytes += chunk.length;
      if (bytes >= maxBytes) finish(undefined, false);
      else arm();
    };
    const onEnd = () => finish(undefined, true);
    const onError = (error: Error) => finish(error);
    const onClose = () => finish(abortedError());
    function finish(error: Error | undefined, complete = false): void {
      clearTimeout(timer);
      req.off('data', onData).off('end', onEnd).off('error', onError).off('close', onClose);
      if (error !== undefined) return reject(error);
      if (!complete) req.pause();
      resolve({ chunks, complete });
    }
    req.on('data', onData).on('end', onEnd).on('error', onError).on('close', onClose);
    arm();
  });
}

export class RequestBody extends Readable {
  readonly #req: Readable;
  readonly #prefix: BodyPrefix;
  readonly #idleMs: number;
  #started = false;
  #timer: NodeJS.Timeout | undefined;
  #onData = (chunk: Buffer) => {
    if (this.push(chunk)) this.#arm();
    else {
      clearTimeout(this.#timer);
      this.#req.pause();
    }
  };
  #onEnd = () => {
    clearTimeout(this.#timer);
    this.push(null);
  };
  #onError = (error: Error) => this.destroy(error);
  #onAborted = () => this.destroy(abortedError());

  /** `prefix`: what readBodyPrefix() already read; `idleMs`: the client body idle timeout (0: none). */
  constructor(req: Readable, prefix: BodyPrefix = { chunks: [], complete: false }, idleMs = 0) {
    super({ highWaterMark: 64 * 1024 });
    this.#req = req;
    this.#prefix = prefix;
    this.#idleMs = idleMs;
  }

  /**
   * True once a body byte beyond a complete prefix was read from the client (and may have gone
   * upstream): such a request can no longer be replayed. A body read whole beforehand always can.
   */
  get started(): boolean {
    return this.#started && !this.#prefix.complete;
  }

  override _read(): void {
    if (!this.#started) {
      this.#started = true;
      for (const chunk of this.#prefix.chunks) this.push(chunk);
      const req = this.#req;
      if (this.#prefix.complete || req.readableEnded) {
        this.push(null);
        return;
      }
      req.on('data', this.#onData).on('end', this.#onEnd).on('error', this.#onError).on('aborted', this.#onAborted);
    }
    if (this.#prefix.complete || this.#req.readableEnded) return;
    this.#arm();
    this.#req.resume();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    clearTimeout(this.#timer);
    this.#req.off('data', this.#onData).off('end', this.#onEnd).off('error', this.#onError).off('aborted', this.#onAborted);
    callback(error);
  }

  #arm(): void {
    clearTimeout(this.#timer);
    if (this.#idleMs > 0) this.#timer = setTimeout(() => this.destroy(bodyTimeoutError(this.#idleMs)), this.#idleMs);
  }
}
