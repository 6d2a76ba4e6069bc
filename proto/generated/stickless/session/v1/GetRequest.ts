// Original file: proto/stickless/session/v1/session.proto

import type { Long } from '@grpc/proto-loader';

export interface GetRequest {
  'namespace'?: (string);
  'id'?: (string);
  'fields'?: (string)[];
  'slide'?: (boolean);
  'minVersion'?: (number | string | Long);
}

export interface GetRequest__Output {
  'namespace': (string);
  'id': (string);
  'fields': (string)[];
  'slide': (boolean);
  'minVersion': (number);
}
