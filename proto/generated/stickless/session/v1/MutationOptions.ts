// Original file: proto/stickless/session/v1/session.proto

import type { Long } from '@grpc/proto-loader';

export interface MutationOptions {
  'expectedVersion'?: (number | string | Long);
  'idempotencyKey'?: (string);
  'ttlMs'?: (number | string | Long);
  '_expectedVersion'?: "expectedVersion";
}

export interface MutationOptions__Output {
  'expectedVersion'?: (number);
  'idempotencyKey': (string);
  'ttlMs': (number);
  '_expectedVersion'?: "expectedVersion";
}
