// Original file: proto/stickless/session/v1/session.proto

import type { Long } from '@grpc/proto-loader';

export interface TouchRequest {
  'namespace'?: (string);
  'id'?: (string);
  'ttlMs'?: (number | string | Long);
}

export interface TouchRequest__Output {
  'namespace': (string);
  'id': (string);
  'ttlMs': (number);
}
