// Original file: proto/stickless/session/v1/session.proto

import type { Long } from '@grpc/proto-loader';

export interface TouchResponse {
  'found'?: (boolean);
  'expiresAtMs'?: (number | string | Long);
  'version'?: (number | string | Long);
}

export interface TouchResponse__Output {
  'found': (boolean);
  'expiresAtMs': (number);
  'version': (number);
}
