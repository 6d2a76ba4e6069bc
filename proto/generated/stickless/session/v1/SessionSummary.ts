// Original file: proto/stickless/session/v1/session.proto

import type { Long } from '@grpc/proto-loader';

export interface SessionSummary {
  'handle'?: (string);
  'version'?: (number | string | Long);
  'createdAtMs'?: (number | string | Long);
  'updatedAtMs'?: (number | string | Long);
  'expiresAtMs'?: (number | string | Long);
}

export interface SessionSummary__Output {
  'handle': (string);
  'version': (number);
  'createdAtMs': (number);
  'updatedAtMs': (number);
  'expiresAtMs': (number);
}
