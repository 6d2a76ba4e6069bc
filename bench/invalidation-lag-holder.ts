// The holder of the invalidation-lag benchmark, as its own process:
// `node bench/invalidation-lag-holder.ts '<HolderOptions as JSON>'`. One SessionClient with the near
// cache on reads every session of `idsFile` until it holds a trusted copy of each (tracked through
// sessiond's Track stream), prints `ready`, and from then on re-reads a session after each change
// to it, so it keeps holding all of them. On SIGUSR2 it writes what it saw to `outFile`, prints
// `done` and exits.
//
// What it measures per UPDATED event: the change's commit time on Redis's clock (TrackEvent
// changedAtMs, Redis TIME in whole ms) to the moment the near cache has handled the event (dropped
// the copy, or found none to drop), on this process's clock: `Date.now()` in the subscriber of the
// client's invalidation diagnostics channel, which the tracker publishes right after the drop.
// Redis and this process read the same machine clock. The event's id and commit time are not in
// the diagnostics message, so the holder also listens to the Track stream itself: the stub's
// `track` is wrapped so that a listener added before the tracker's sees each event first.
import diagnosticsChannel from 'node:diagnostics_channel';
import { readFileSync, writeFileSync } from 'node:fs';
import type { ClientDuplexStream } from '@grpc/grpc-js';
import { CLIENT_CHANNELS, SessionClient, type InvalidationMessage, type NearCacheStats } from '../client/index.ts';
import { SessionServiceClientConstructor } from '../proto/index.ts';
import type { TrackEvent__Output } from '../proto/generated/stickless/session/v1/TrackEvent.ts';
import { waitForTrustedCopies } from './near-cache.ts';

export interface HolderOptions {
  address: string;
  namespace: string;
  /** JSON array of the session ids to hold. */
  idsFile: string;
  /** Where the result (HolderResult as JSON) goes on SIGUSR2. */
  outFile: string;
  deadlineMs: number;
  /** Re-read a session after each change to it, so the copy is held again (default true). */
  reread?: boolean | undefined;
}

export interface HolderResult {
  /** Per UPDATED event, flattened: commit time (epoch ms, Redis clock), lag ms, 1 if a copy was dropped. */
  samples: number[];
  /** Events the diagnostics channel reported that the stream listener had not seen first (expected 0). */
  unmatched: number;
  rereads: number;
  rereadErrors: number;
  /** The client's own figures (lagMs: its estimate over the last 4,096 events). */
  stats: NearCacheStats;
}

const options = JSON.parse(process.argv[2] ?? '{}') as HolderOptions;
const ids = JSON.parse(readFileSync(options.idsFile, 'utf8')) as string[];

let current: TrackEvent__Output | undefined;
type TrackMethod = (...args: unknown[]) => ClientDuplexStream<unknown, TrackEvent__Output>;
const stub = SessionServiceClientConstructor.prototype as unknown as { track: TrackMethod };
const openTrack = stub.track;
stub.track = function (this: unknown, ...args: unknown[]) {
  const call = openTrack.apply(this, args);
  call.on('data', (event: TrackEvent__Output) => void (current = event));
  return call;
};

const client = new SessionClient({ address: options.address, namespace: options.namespace, deadlineMs: options.deadlineMs, nearCache: { maxEntries: Math.max(10_000, 2 * ids.length), maxBytes: 256 * 1024 * 1024 } });
const samples: number[] = [];
let measuring = false;
let unmatched = 0;
let rereads = 0;
let rereadErrors = 0;
/** Ids with a re-read on its way; true when another change came meanwhile (read once more after it). */
const reading = new Map<string, boolean>();

function reread(id: string): void {
  if (reading.has(id)) {
    reading.set(id, true);
    return;
  }
  reading.set(id, false);
  rereads++;
  client.get(id).then(() => undefined, () => void rereadErrors++).finally(() => {
    const again = reading.get(id) === true;
    reading.delete(id);
    if (again) reread(id);
  });
}

diagnosticsChannel.subscribe(CLIENT_CHANNELS.invalidation, (message) => {
  const handledAt = Date.now();
  const { kind, version, dropped } = message as InvalidationMessage;
  const event = current;
  current = undefined;
  if (!measuring || kind !== 'UPDATED') return;
  if (event?.kind !== 'UPDATED' || event.version !== version) {
    unmatched++;
    return;
  }
  const committedAt = Number(event.changedAtMs);
  samples.push(committedAt, handledAt - committedAt, dropped ? 1 : 0);
  if (options.reread !== false) setImmediate(() => reread(event.id));
});

process.once('SIGUSR2', () => {
  const result: HolderResult = { samples, unmatched, rereads, rereadErrors, stats: client.nearCacheStats() };
  writeFileSync(options.outFile, JSON.stringify(result));
  client.close();
  process.stdout.write('done\n');
  process.exit(0);
});

await waitForTrustedCopies(client, ids);
if (client.nearCacheStats().trusted < ids.length) {
  process.stderr.write(`holder: ${client.nearCacheStats().trusted} of ${ids.length} copies trusted after 30 s\n`);
  process.exit(1);
}
measuring = true;
process.stdout.write('ready\n');
