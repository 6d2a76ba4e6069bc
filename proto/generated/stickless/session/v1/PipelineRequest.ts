// Original file: proto/stickless/session/v1/session.proto

import type { CreateRequest as _stickless_session_v1_CreateRequest, CreateRequest__Output as _stickless_session_v1_CreateRequest__Output } from '../../../stickless/session/v1/CreateRequest.ts';
import type { GetRequest as _stickless_session_v1_GetRequest, GetRequest__Output as _stickless_session_v1_GetRequest__Output } from '../../../stickless/session/v1/GetRequest.ts';
import type { PutRequest as _stickless_session_v1_PutRequest, PutRequest__Output as _stickless_session_v1_PutRequest__Output } from '../../../stickless/session/v1/PutRequest.ts';
import type { PatchRequest as _stickless_session_v1_PatchRequest, PatchRequest__Output as _stickless_session_v1_PatchRequest__Output } from '../../../stickless/session/v1/PatchRequest.ts';
import type { DeleteRequest as _stickless_session_v1_DeleteRequest, DeleteRequest__Output as _stickless_session_v1_DeleteRequest__Output } from '../../../stickless/session/v1/DeleteRequest.ts';
import type { TouchRequest as _stickless_session_v1_TouchRequest, TouchRequest__Output as _stickless_session_v1_TouchRequest__Output } from '../../../stickless/session/v1/TouchRequest.ts';
import type { RegenerateRequest as _stickless_session_v1_RegenerateRequest, RegenerateRequest__Output as _stickless_session_v1_RegenerateRequest__Output } from '../../../stickless/session/v1/RegenerateRequest.ts';
import type { Long } from '@grpc/proto-loader';

export interface PipelineRequest {
  'callId'?: (number | string | Long);
  'traceparent'?: (string);
  'tracestate'?: (string);
  'requestId'?: (string);
  'create'?: (_stickless_session_v1_CreateRequest | null);
  'get'?: (_stickless_session_v1_GetRequest | null);
  'put'?: (_stickless_session_v1_PutRequest | null);
  'patch'?: (_stickless_session_v1_PatchRequest | null);
  'delete'?: (_stickless_session_v1_DeleteRequest | null);
  'touch'?: (_stickless_session_v1_TouchRequest | null);
  'regenerate'?: (_stickless_session_v1_RegenerateRequest | null);
  'call'?: "create"|"get"|"put"|"patch"|"delete"|"touch"|"regenerate";
}

export interface PipelineRequest__Output {
  'callId': (number);
  'traceparent': (string);
  'tracestate': (string);
  'requestId': (string);
  'create'?: (_stickless_session_v1_CreateRequest__Output | null);
  'get'?: (_stickless_session_v1_GetRequest__Output | null);
  'put'?: (_stickless_session_v1_PutRequest__Output | null);
  'patch'?: (_stickless_session_v1_PatchRequest__Output | null);
  'delete'?: (_stickless_session_v1_DeleteRequest__Output | null);
  'touch'?: (_stickless_session_v1_TouchRequest__Output | null);
  'regenerate'?: (_stickless_session_v1_RegenerateRequest__Output | null);
  'call'?: "create"|"get"|"put"|"patch"|"delete"|"touch"|"regenerate";
}
