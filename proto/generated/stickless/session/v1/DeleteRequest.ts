// Original file: proto/stickless/session/v1/session.proto

import type { Long } from '@grpc/proto-loader';

export interface DeleteRequest {
  'namespace'?: (string);
  'id'?: (string);
  'expectedVersion'?: (number | string | Long);
  '_expectedVersion'?: "expectedVersion";
}

export interface DeleteRequest__Output {
  'namespace': (string);
  'id': (string);
  'expectedVersion'?: (number);
  '_expectedVersion'?: "expectedVersion";
}
