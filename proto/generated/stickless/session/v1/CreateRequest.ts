// Original file: proto/stickless/session/v1/session.proto

import type { Long } from '@grpc/proto-loader';

export interface CreateRequest {
  'namespace'?: (string);
  'fields'?: ({[key: string]: Buffer | Uint8Array | string});
  'ttlMs'?: (number | string | Long);
  'owner'?: (string);
  'id'?: (string);
  'idempotencyKey'?: (string);
}

export interface CreateRequest__Output {
  'namespace': (string);
  'fields': ({[key: string]: Buffer});
  'ttlMs': (number);
  'owner': (string);
  'id': (string);
  'idempotencyKey': (string);
}
