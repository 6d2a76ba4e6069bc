// Original file: proto/stickless/session/v1/session.proto

import type { Long } from '@grpc/proto-loader';

// Original file: proto/stickless/session/v1/session.proto

export const _stickless_session_v1_WatchEvent_Kind = {
  KIND_UNSPECIFIED: 'KIND_UNSPECIFIED',
  SNAPSHOT: 'SNAPSHOT',
  UPDATED: 'UPDATED',
  DELETED: 'DELETED',
  EXPIRED: 'EXPIRED',
} as const;

export type _stickless_session_v1_WatchEvent_Kind =
  | 'KIND_UNSPECIFIED'
  | 0
  | 'SNAPSHOT'
  | 1
  | 'UPDATED'
  | 2
  | 'DELETED'
  | 3
  | 'EXPIRED'
  | 4

export type _stickless_session_v1_WatchEvent_Kind__Output = typeof _stickless_session_v1_WatchEvent_Kind[keyof typeof _stickless_session_v1_WatchEvent_Kind]

export interface WatchEvent {
  'kind'?: (_stickless_session_v1_WatchEvent_Kind);
  'version'?: (number | string | Long);
  'fields'?: (string)[];
  'expiresAtMs'?: (number | string | Long);
}

export interface WatchEvent__Output {
  'kind': (_stickless_session_v1_WatchEvent_Kind__Output);
  'version': (number);
  'fields': (string)[];
  'expiresAtMs': (number);
}
