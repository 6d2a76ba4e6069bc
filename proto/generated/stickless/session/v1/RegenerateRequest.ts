// Original file: proto/stickless/session/v1/session.proto

import type { MutationOptions as _stickless_session_v1_MutationOptions, MutationOptions__Output as _stickless_session_v1_MutationOptions__Output } from '../../../stickless/session/v1/MutationOptions.ts';

export interface RegenerateRequest {
  'namespace'?: (string);
  'id'?: (string);
  'options'?: (_stickless_session_v1_MutationOptions | null);
  'owner'?: (string);
}

export interface RegenerateRequest__Output {
  'namespace': (string);
  'id': (string);
  'options': (_stickless_session_v1_MutationOptions__Output | null);
  'owner': (string);
}
