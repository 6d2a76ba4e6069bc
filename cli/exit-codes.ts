// Exit codes of `stickless`, stable for scripts (docs/cli.md), and the small output helpers.

export const EXIT = Object.freeze({
  /** Done; for `get`/`ls`/`rm`/`revoke` the JSON answer is on stdout. */
  ok: 0,
  /** `session get`/`rm`/`watch` of a session that does not exist (or has expired). */
  notFound: 1,
  /** Bad command line: unknown command or flag, missing argument. Nothing was sent. */
  usage: 2,
  /** sessiond answered with an error or could not be reached; `{"error":{"code","message"}}` on stderr. */
  failed: 3,
  /** `sessiond`/`proxy`/`up` need an optional peer dependency that is not installed (named on stderr). */
  missingDependency: 4,
  /** Internal: a service took over the process; its own exit code applies. */
  running: -1,
});

/** A command-line mistake: exit 2 with the message. */
export class UsageError extends Error {
  override name = 'UsageError';
}

export function write(stream: NodeJS.WriteStream, text: string): void {
  stream.write(text);
}

/** JSON for session values: Buffers as `{ "$base64": ... }`, bigints as strings, Dates as ISO strings. */
export function toJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (typeof v === 'bigint') return v.toString();
    if (v !== null && typeof v === 'object' && 'type' in v && (v as { type: unknown }).type === 'Buffer' && 'data' in v) {
      return { $base64: Buffer.from((v as { data: number[] }).data).toString('base64') };
    }
    return v;
  });
}
