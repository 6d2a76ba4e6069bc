// A raw Track stream for server tests: collects events and the final status, and waits for events.
import * as grpc from '@grpc/grpc-js';
import type { ExecutionContext } from 'ava';
import type { TrackRequest } from '../../proto/generated/stickless/session/v1/TrackRequest.ts';
import type { TrackEvent__Output } from '../../proto/generated/stickless/session/v1/TrackEvent.ts';
import type { RawStub } from '../helpers/grpc.ts';
import { waitFor } from '../helpers/servers.ts';

export interface TrackHandle {
  events: TrackEvent__Output[];
  hold(namespace: string, ...ids: string[]): void;
  release(namespace: string, ...ids: string[]): void;
  /** The first event after index `from` that matches, waiting up to 20 s. */
  next(match: Partial<TrackEvent__Output>, from?: number): Promise<TrackEvent__Output>;
  /** The stream's error, once it ended with one (waits up to 20 s). */
  failure(): Promise<grpc.ServiceError>;
  /** The stream's final status (waits up to 20 s). */
  status(): Promise<grpc.StatusObject>;
  stream: grpc.ClientDuplexStream<TrackRequest, TrackEvent__Output>;
}

export function openTrack(t: ExecutionContext, stub: RawStub, metadata = new grpc.Metadata()): TrackHandle {
  const stream = stub.Track(metadata, { deadline: Date.now() + 60_000 });
  const events: TrackEvent__Output[] = [];
  let error: grpc.ServiceError | undefined;
  let status: grpc.StatusObject | undefined;
  stream.on('data', (event: TrackEvent__Output) => events.push(event));
  stream.on('status', (s: grpc.StatusObject) => (status = s));
  stream.on('error', (e: grpc.ServiceError) => (error = e));
  t.teardown(() => stream.cancel());
  const matches = (event: TrackEvent__Output, match: Partial<TrackEvent__Output>): boolean =>
    Object.entries(match).every(([key, value]) => event[key as keyof TrackEvent__Output] === value);
  return {
    events,
    stream,
    hold: (namespace, ...ids) => stream.write({ namespace, hold: ids }),
    release: (namespace, ...ids) => stream.write({ namespace, release: ids }),
    next: (match, from = 0) => waitFor(() => events.slice(from).find((event) => matches(event, match)), 20_000, `a track event like ${JSON.stringify(match)}`),
    failure: () => waitFor(() => error, 20_000, 'the stream to fail'),
    status: () => waitFor(() => status, 20_000, 'the stream to end'),
  };
}
