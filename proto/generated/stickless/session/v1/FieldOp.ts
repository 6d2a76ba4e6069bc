// Original file: proto/stickless/session/v1/session.proto

import type { Long } from '@grpc/proto-loader';

export interface _stickless_session_v1_FieldOp_Delete {
}

export interface _stickless_session_v1_FieldOp_Delete__Output {
}

export interface FieldOp {
  'field'?: (string);
  'set'?: (Buffer | Uint8Array | string);
  'legacyDelete'?: (boolean);
  'incrementInt'?: (number | string | Long);
  'incrementFloat'?: (number | string);
  'append'?: (Buffer | Uint8Array | string);
  'delete'?: (_stickless_session_v1_FieldOp_Delete | null);
  'op'?: "set"|"delete"|"legacyDelete"|"incrementInt"|"incrementFloat"|"append";
}

export interface FieldOp__Output {
  'field': (string);
  'set'?: (Buffer);
  'legacyDelete'?: (boolean);
  'incrementInt'?: (number);
  'incrementFloat'?: (number);
  'append'?: (Buffer);
  'delete'?: (_stickless_session_v1_FieldOp_Delete__Output | null);
  'op'?: "set"|"delete"|"legacyDelete"|"incrementInt"|"incrementFloat"|"append";
}
