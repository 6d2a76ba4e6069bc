// Original file: proto/stickless/session/v1/session.proto

import type { SessionResponse as _stickless_session_v1_SessionResponse, SessionResponse__Output as _stickless_session_v1_SessionResponse__Output } from '../../../stickless/session/v1/SessionResponse.ts';
import type { GetResponse as _stickless_session_v1_GetResponse, GetResponse__Output as _stickless_session_v1_GetResponse__Output } from '../../../stickless/session/v1/GetResponse.ts';
import type { DeleteResponse as _stickless_session_v1_DeleteResponse, DeleteResponse__Output as _stickless_session_v1_DeleteResponse__Output } from '../../../stickless/session/v1/DeleteResponse.ts';
import type { TouchResponse as _stickless_session_v1_TouchResponse, TouchResponse__Output as _stickless_session_v1_TouchResponse__Output } from '../../../stickless/session/v1/TouchResponse.ts';
import type { PipelineError as _stickless_session_v1_PipelineError, PipelineError__Output as _stickless_session_v1_PipelineError__Output } from '../../../stickless/session/v1/PipelineError.ts';
import type { Long } from '@grpc/proto-loader';

export interface PipelineReply {
  'callId'?: (number | string | Long);
  'session'?: (_stickless_session_v1_SessionResponse | null);
  'get'?: (_stickless_session_v1_GetResponse | null);
  'delete'?: (_stickless_session_v1_DeleteResponse | null);
  'touch'?: (_stickless_session_v1_TouchResponse | null);
  'error'?: (_stickless_session_v1_PipelineError | null);
  'result'?: "session"|"get"|"delete"|"touch"|"error";
}

export interface PipelineReply__Output {
  'callId': (number);
  'session'?: (_stickless_session_v1_SessionResponse__Output | null);
  'get'?: (_stickless_session_v1_GetResponse__Output | null);
  'delete'?: (_stickless_session_v1_DeleteResponse__Output | null);
  'touch'?: (_stickless_session_v1_TouchResponse__Output | null);
  'error'?: (_stickless_session_v1_PipelineError__Output | null);
  'result'?: "session"|"get"|"delete"|"touch"|"error";
}
