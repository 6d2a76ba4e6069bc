// Original file: proto/stickless/session/v1/session.proto

import type { Long } from '@grpc/proto-loader';

export interface Session {
  'id'?: (string);
  'namespace'?: (string);
  'version'?: (number | string | Long);
  'fields'?: ({[key: string]: Buffer | Uint8Array | string});
  'createdAtMs'?: (number | string | Long);
  'updatedAtMs'?: (number | string | Long);
  'expiresAtMs'?: (number | string | Long);
  'owner'?: (string);
}

export interface Session__Output {
  'id': (string);
  'namespace': (string);
  'version': (number);
  'fields': ({[key: string]: Buffer});
  'createdAtMs': (number);
  'updatedAtMs': (number);
  'expiresAtMs': (number);
  'owner': (string);
}
