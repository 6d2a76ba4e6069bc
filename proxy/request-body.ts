// The request body as undici sees it: a Readable that starts pulling from the client only when
// undici first reads, i.e. once a connection to the backend exists. So after a connect failure
// `started` is false, not one byte has left the client socket, and the request may be retried with
// a fresh RequestBody. Destroying it (undici does on upstream errors) never destroys the client
// request, so the client still gets a proper error response.
import { Readable } from 'node:stream';
import type { IncomingMessage } from 'node:http';

export class RequestBody extends Readable {
  readonly #req: IncomingMessage;
  #started = false;
  #onData = (chunk: Buffer) => {
    if (!this.push(chunk)) this.#req.pause();
  };
  #onEnd = () => this.push(null);
  #onError = (error: Error) => this.destroy(error);
  #onAborted = () => this.destroy(Object.assign(new Error('client aborted the request body'), { code: 'PRX_CLIENT_ABORTED' }));

  constructor(req: IncomingMessage) {
    super({ highWaterMark: 64 * 1024 });
    this.#req = req;
  }

  /** True once any body byte was read from the client (and may have gone upstream). */
  get started(): boolean {
    return this.#started;
  }

  override _read(): void {
    if (!this.#started) {
      this.#started = true;
      const req = this.#req;
      if (req.readableEnded) {
        this.push(null);
        return;
      }
      req.on('data', this.#onData).on('end', this.#onEnd).on('error', this.#onError).on('aborted', this.#onAborted);
    }
    this.#req.resume();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.#req.off('data', this.#onData).off('end', this.#onEnd).off('error', this.#onError).off('aborted', this.#onAborted);
    callback(error);
  }
}
