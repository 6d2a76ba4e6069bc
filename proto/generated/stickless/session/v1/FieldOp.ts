// Original file: proto/stickless/session/v1/session.proto

import type { Long } from '@grpc/proto-loader';

export interface FieldOp {
  'field'?: (string);
  'set'?: (Buffer | Uint8Array | string);
  'delete'?: (boolean);
  'incrementInt'?: (number | string | Long);
  'incrementFloat'?: (number | string);
  'append'?: (Buffer | Uint8Array | string);
  'op'?: "set"|"delete"|"incrementInt"|"incrementFloat"|"append";
}

export interface FieldOp__Output {
  'field': (string);
  'set'?: (Buffer);
  'delete'?: (boolean);
  'incrementInt'?: (number);
  'incrementFloat'?: (number);
  'append'?: (Buffer);
  'op'?: "set"|"delete"|"incrementInt"|"incrementFloat"|"append";
}
