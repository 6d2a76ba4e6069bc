// Original file: proto/stickless/session/v1/session.proto

import type { FieldOp as _stickless_session_v1_FieldOp, FieldOp__Output as _stickless_session_v1_FieldOp__Output } from '../../../stickless/session/v1/FieldOp.ts';
import type { MutationOptions as _stickless_session_v1_MutationOptions, MutationOptions__Output as _stickless_session_v1_MutationOptions__Output } from '../../../stickless/session/v1/MutationOptions.ts';

export interface PatchRequest {
  'namespace'?: (string);
  'id'?: (string);
  'ops'?: (_stickless_session_v1_FieldOp)[];
  'options'?: (_stickless_session_v1_MutationOptions | null);
}

export interface PatchRequest__Output {
  'namespace': (string);
  'id': (string);
  'ops': (_stickless_session_v1_FieldOp__Output)[];
  'options': (_stickless_session_v1_MutationOptions__Output | null);
}
