// Original file: proto/stickless/session/v1/session.proto

import type { Long } from '@grpc/proto-loader';

// Original file: proto/stickless/session/v1/session.proto

export const _stickless_session_v1_TrackEvent_Kind = {
  KIND_UNSPECIFIED: 'KIND_UNSPECIFIED',
  TRACKING: 'TRACKING',
  UPDATED: 'UPDATED',
  DELETED: 'DELETED',
  EXPIRED: 'EXPIRED',
  RESYNC: 'RESYNC',
} as const;

export type _stickless_session_v1_TrackEvent_Kind =
  | 'KIND_UNSPECIFIED'
  | 0
  | 'TRACKING'
  | 1
  | 'UPDATED'
  | 2
  | 'DELETED'
  | 3
  | 'EXPIRED'
  | 4
  | 'RESYNC'
  | 5

export type _stickless_session_v1_TrackEvent_Kind__Output = typeof _stickless_session_v1_TrackEvent_Kind[keyof typeof _stickless_session_v1_TrackEvent_Kind]

export interface TrackEvent {
  'kind'?: (_stickless_session_v1_TrackEvent_Kind);
  'namespace'?: (string);
  'id'?: (string);
  'version'?: (number | string | Long);
  'expiresAtMs'?: (number | string | Long);
  'changedAtMs'?: (number | string | Long);
  'nowMs'?: (number | string | Long);
}

export interface TrackEvent__Output {
  'kind': (_stickless_session_v1_TrackEvent_Kind__Output);
  'namespace': (string);
  'id': (string);
  'version': (number);
  'expiresAtMs': (number);
  'changedAtMs': (number);
  'nowMs': (number);
}
