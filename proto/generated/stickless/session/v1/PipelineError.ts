// Original file: proto/stickless/session/v1/session.proto

import type { Long } from '@grpc/proto-loader';

export interface PipelineError {
  'status'?: (number);
  'code'?: (string);
  'message'?: (string);
  'currentVersion'?: (number | string | Long);
  '_currentVersion'?: "currentVersion";
}

export interface PipelineError__Output {
  'status': (number);
  'code': (string);
  'message': (string);
  'currentVersion'?: (number);
  '_currentVersion'?: "currentVersion";
}
