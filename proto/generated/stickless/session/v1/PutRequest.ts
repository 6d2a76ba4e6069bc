// Original file: proto/stickless/session/v1/session.proto

import type { MutationOptions as _stickless_session_v1_MutationOptions, MutationOptions__Output as _stickless_session_v1_MutationOptions__Output } from '../../../stickless/session/v1/MutationOptions.ts';

export interface PutRequest {
  'namespace'?: (string);
  'id'?: (string);
  'fields'?: ({[key: string]: Buffer | Uint8Array | string});
  'options'?: (_stickless_session_v1_MutationOptions | null);
}

export interface PutRequest__Output {
  'namespace': (string);
  'id': (string);
  'fields': ({[key: string]: Buffer});
  'options': (_stickless_session_v1_MutationOptions__Output | null);
}
