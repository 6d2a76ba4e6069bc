// Original file: proto/stickless/session/v1/session.proto

import type * as grpc from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import type { CreateRequest as _stickless_session_v1_CreateRequest, CreateRequest__Output as _stickless_session_v1_CreateRequest__Output } from '../../../stickless/session/v1/CreateRequest.ts';
import type { DeleteRequest as _stickless_session_v1_DeleteRequest, DeleteRequest__Output as _stickless_session_v1_DeleteRequest__Output } from '../../../stickless/session/v1/DeleteRequest.ts';
import type { DeleteResponse as _stickless_session_v1_DeleteResponse, DeleteResponse__Output as _stickless_session_v1_DeleteResponse__Output } from '../../../stickless/session/v1/DeleteResponse.ts';
import type { GetRequest as _stickless_session_v1_GetRequest, GetRequest__Output as _stickless_session_v1_GetRequest__Output } from '../../../stickless/session/v1/GetRequest.ts';
import type { GetResponse as _stickless_session_v1_GetResponse, GetResponse__Output as _stickless_session_v1_GetResponse__Output } from '../../../stickless/session/v1/GetResponse.ts';
import type { ListByOwnerRequest as _stickless_session_v1_ListByOwnerRequest, ListByOwnerRequest__Output as _stickless_session_v1_ListByOwnerRequest__Output } from '../../../stickless/session/v1/ListByOwnerRequest.ts';
import type { ListByOwnerResponse as _stickless_session_v1_ListByOwnerResponse, ListByOwnerResponse__Output as _stickless_session_v1_ListByOwnerResponse__Output } from '../../../stickless/session/v1/ListByOwnerResponse.ts';
import type { PatchRequest as _stickless_session_v1_PatchRequest, PatchRequest__Output as _stickless_session_v1_PatchRequest__Output } from '../../../stickless/session/v1/PatchRequest.ts';
import type { PipelineReply as _stickless_session_v1_PipelineReply, PipelineReply__Output as _stickless_session_v1_PipelineReply__Output } from '../../../stickless/session/v1/PipelineReply.ts';
import type { PipelineRequest as _stickless_session_v1_PipelineRequest, PipelineRequest__Output as _stickless_session_v1_PipelineRequest__Output } from '../../../stickless/session/v1/PipelineRequest.ts';
import type { PutRequest as _stickless_session_v1_PutRequest, PutRequest__Output as _stickless_session_v1_PutRequest__Output } from '../../../stickless/session/v1/PutRequest.ts';
import type { RegenerateRequest as _stickless_session_v1_RegenerateRequest, RegenerateRequest__Output as _stickless_session_v1_RegenerateRequest__Output } from '../../../stickless/session/v1/RegenerateRequest.ts';
import type { RevokeByOwnerRequest as _stickless_session_v1_RevokeByOwnerRequest, RevokeByOwnerRequest__Output as _stickless_session_v1_RevokeByOwnerRequest__Output } from '../../../stickless/session/v1/RevokeByOwnerRequest.ts';
import type { RevokeByOwnerResponse as _stickless_session_v1_RevokeByOwnerResponse, RevokeByOwnerResponse__Output as _stickless_session_v1_RevokeByOwnerResponse__Output } from '../../../stickless/session/v1/RevokeByOwnerResponse.ts';
import type { SessionResponse as _stickless_session_v1_SessionResponse, SessionResponse__Output as _stickless_session_v1_SessionResponse__Output } from '../../../stickless/session/v1/SessionResponse.ts';
import type { TouchRequest as _stickless_session_v1_TouchRequest, TouchRequest__Output as _stickless_session_v1_TouchRequest__Output } from '../../../stickless/session/v1/TouchRequest.ts';
import type { TouchResponse as _stickless_session_v1_TouchResponse, TouchResponse__Output as _stickless_session_v1_TouchResponse__Output } from '../../../stickless/session/v1/TouchResponse.ts';
import type { TrackEvent as _stickless_session_v1_TrackEvent, TrackEvent__Output as _stickless_session_v1_TrackEvent__Output } from '../../../stickless/session/v1/TrackEvent.ts';
import type { TrackRequest as _stickless_session_v1_TrackRequest, TrackRequest__Output as _stickless_session_v1_TrackRequest__Output } from '../../../stickless/session/v1/TrackRequest.ts';
import type { WatchEvent as _stickless_session_v1_WatchEvent, WatchEvent__Output as _stickless_session_v1_WatchEvent__Output } from '../../../stickless/session/v1/WatchEvent.ts';
import type { WatchRequest as _stickless_session_v1_WatchRequest, WatchRequest__Output as _stickless_session_v1_WatchRequest__Output } from '../../../stickless/session/v1/WatchRequest.ts';

export interface SessionServiceClient extends grpc.Client {
  Create(argument: _stickless_session_v1_CreateRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_stickless_session_v1_SessionResponse__Output>): grpc.ClientUnaryCall;
  Create(argument: _stickless_session_v1_CreateRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_stickless_session_v1_SessionResponse__Output>): grpc.ClientUnaryCall;
  Create(argument: _stickless_session_v1_CreateRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_stickless_session_v1_SessionResponse__Output>): grpc.ClientUnaryCall;
  Create(argument: _stickless_session_v1_CreateRequest, callback: grpc.requestCallback<_stickless_session_v1_SessionResponse__Output>): grpc.ClientUnaryCall;
  create(argument: _stickless_session_v1_CreateRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_stickless_session_v1_SessionResponse__Output>): grpc.ClientUnaryCall;
  create(argument: _stickless_session_v1_CreateRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_stickless_session_v1_SessionResponse__Output>): grpc.ClientUnaryCall;
  create(argument: _stickless_session_v1_CreateRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_stickless_session_v1_SessionResponse__Output>): grpc.ClientUnaryCall;
  create(argument: _stickless_session_v1_CreateRequest, callback: grpc.requestCallback<_stickless_session_v1_SessionResponse__Output>): grpc.ClientUnaryCall;
  
  Delete(argument: _stickless_session_v1_DeleteRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_stickless_session_v1_DeleteResponse__Output>): grpc.ClientUnaryCall;
  Delete(argument: _stickless_session_v1_DeleteRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_stickless_session_v1_DeleteResponse__Output>): grpc.ClientUnaryCall;
  Delete(argument: _stickless_session_v1_DeleteRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_stickless_session_v1_DeleteResponse__Output>): grpc.ClientUnaryCall;
  Delete(argument: _stickless_session_v1_DeleteRequest, callback: grpc.requestCallback<_stickless_session_v1_DeleteResponse__Output>): grpc.ClientUnaryCall;
  delete(argument: _stickless_session_v1_DeleteRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_stickless_session_v1_DeleteResponse__Output>): grpc.ClientUnaryCall;
  delete(argument: _stickless_session_v1_DeleteRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_stickless_session_v1_DeleteResponse__Output>): grpc.ClientUnaryCall;
  delete(argument: _stickless_session_v1_DeleteRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_stickless_session_v1_DeleteResponse__Output>): grpc.ClientUnaryCall;
  delete(argument: _stickless_session_v1_DeleteRequest, callback: grpc.requestCallback<_stickless_session_v1_DeleteResponse__Output>): grpc.ClientUnaryCall;
  
  Get(argument: _stickless_session_v1_GetRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_stickless_session_v1_GetResponse__Output>): grpc.ClientUnaryCall;
  Get(argument: _stickless_session_v1_GetRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_stickless_session_v1_GetResponse__Output>): grpc.ClientUnaryCall;
  Get(argument: _stickless_session_v1_GetRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_stickless_session_v1_GetResponse__Output>): grpc.ClientUnaryCall;
  Get(argument: _stickless_session_v1_GetRequest, callback: grpc.requestCallback<_stickless_session_v1_GetResponse__Output>): grpc.ClientUnaryCall;
  get(argument: _stickless_session_v1_GetRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_stickless_session_v1_GetResponse__Output>): grpc.ClientUnaryCall;
  get(argument: _stickless_session_v1_GetRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_stickless_session_v1_GetResponse__Output>): grpc.ClientUnaryCall;
  get(argument: _stickless_session_v1_GetRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_stickless_session_v1_GetResponse__Output>): grpc.ClientUnaryCall;
  get(argument: _stickless_session_v1_GetRequest, callback: grpc.requestCallback<_stickless_session_v1_GetResponse__Output>): grpc.ClientUnaryCall;
  
  ListByOwner(argument: _stickless_session_v1_ListByOwnerRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_stickless_session_v1_ListByOwnerResponse__Output>): grpc.ClientUnaryCall;
  ListByOwner(argument: _stickless_session_v1_ListByOwnerRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_stickless_session_v1_ListByOwnerResponse__Output>): grpc.ClientUnaryCall;
  ListByOwner(argument: _stickless_session_v1_ListByOwnerRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_stickless_session_v1_ListByOwnerResponse__Output>): grpc.ClientUnaryCall;
  ListByOwner(argument: _stickless_session_v1_ListByOwnerRequest, callback: grpc.requestCallback<_stickless_session_v1_ListByOwnerResponse__Output>): grpc.ClientUnaryCall;
  listByOwner(argument: _stickless_session_v1_ListByOwnerRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_stickless_session_v1_ListByOwnerResponse__Output>): grpc.ClientUnaryCall;
  listByOwner(argument: _stickless_session_v1_ListByOwnerRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_stickless_session_v1_ListByOwnerResponse__Output>): grpc.ClientUnaryCall;
  listByOwner(argument: _stickless_session_v1_ListByOwnerRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_stickless_session_v1_ListByOwnerResponse__Output>): grpc.ClientUnaryCall;
  listByOwner(argument: _stickless_session_v1_ListByOwnerRequest, callback: grpc.requestCallback<_stickless_session_v1_ListByOwnerResponse__Output>): grpc.ClientUnaryCall;
  
  Patch(argument: _stickless_session_v1_PatchRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_stickless_session_v1_SessionResponse__Output>): grpc.ClientUnaryCall;
  Patch(argument: _stickless_session_v1_PatchRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_stickless_session_v1_SessionResponse__Output>): grpc.ClientUnaryCall;
  Patch(argument: _stickless_session_v1_PatchRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_stickless_session_v1_SessionResponse__Output>): grpc.ClientUnaryCall;
  Patch(argument: _stickless_session_v1_PatchRequest, callback: grpc.requestCallback<_stickless_session_v1_SessionResponse__Output>): grpc.ClientUnaryCall;
  patch(argument: _stickless_session_v1_PatchRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_stickless_session_v1_SessionResponse__Output>): grpc.ClientUnaryCall;
  patch(argument: _stickless_session_v1_PatchRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_stickless_session_v1_SessionResponse__Output>): grpc.ClientUnaryCall;
  patch(argument: _stickless_session_v1_PatchRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_stickless_session_v1_SessionResponse__Output>): grpc.ClientUnaryCall;
  patch(argument: _stickless_session_v1_PatchRequest, callback: grpc.requestCallback<_stickless_session_v1_SessionResponse__Output>): grpc.ClientUnaryCall;
  
  Pipeline(metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientDuplexStream<_stickless_session_v1_PipelineRequest, _stickless_session_v1_PipelineReply__Output>;
  Pipeline(options?: grpc.CallOptions): grpc.ClientDuplexStream<_stickless_session_v1_PipelineRequest, _stickless_session_v1_PipelineReply__Output>;
  pipeline(metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientDuplexStream<_stickless_session_v1_PipelineRequest, _stickless_session_v1_PipelineReply__Output>;
  pipeline(options?: grpc.CallOptions): grpc.ClientDuplexStream<_stickless_session_v1_PipelineRequest, _stickless_session_v1_PipelineReply__Output>;
  
  Put(argument: _stickless_session_v1_PutRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_stickless_session_v1_SessionResponse__Output>): grpc.ClientUnaryCall;
  Put(argument: _stickless_session_v1_PutRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_stickless_session_v1_SessionResponse__Output>): grpc.ClientUnaryCall;
  Put(argument: _stickless_session_v1_PutRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_stickless_session_v1_SessionResponse__Output>): grpc.ClientUnaryCall;
  Put(argument: _stickless_session_v1_PutRequest, callback: grpc.requestCallback<_stickless_session_v1_SessionResponse__Output>): grpc.ClientUnaryCall;
  put(argument: _stickless_session_v1_PutRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_stickless_session_v1_SessionResponse__Output>): grpc.ClientUnaryCall;
  put(argument: _stickless_session_v1_PutRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_stickless_session_v1_SessionResponse__Output>): grpc.ClientUnaryCall;
  put(argument: _stickless_session_v1_PutRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_stickless_session_v1_SessionResponse__Output>): grpc.ClientUnaryCall;
  put(argument: _stickless_session_v1_PutRequest, callback: grpc.requestCallback<_stickless_session_v1_SessionResponse__Output>): grpc.ClientUnaryCall;
  
  Regenerate(argument: _stickless_session_v1_RegenerateRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_stickless_session_v1_SessionResponse__Output>): grpc.ClientUnaryCall;
  Regenerate(argument: _stickless_session_v1_RegenerateRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_stickless_session_v1_SessionResponse__Output>): grpc.ClientUnaryCall;
  Regenerate(argument: _stickless_session_v1_RegenerateRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_stickless_session_v1_SessionResponse__Output>): grpc.ClientUnaryCall;
  Regenerate(argument: _stickless_session_v1_RegenerateRequest, callback: grpc.requestCallback<_stickless_session_v1_SessionResponse__Output>): grpc.ClientUnaryCall;
  regenerate(argument: _stickless_session_v1_RegenerateRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_stickless_session_v1_SessionResponse__Output>): grpc.ClientUnaryCall;
  regenerate(argument: _stickless_session_v1_RegenerateRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_stickless_session_v1_SessionResponse__Output>): grpc.ClientUnaryCall;
  regenerate(argument: _stickless_session_v1_RegenerateRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_stickless_session_v1_SessionResponse__Output>): grpc.ClientUnaryCall;
  regenerate(argument: _stickless_session_v1_RegenerateRequest, callback: grpc.requestCallback<_stickless_session_v1_SessionResponse__Output>): grpc.ClientUnaryCall;
  
  RevokeByOwner(argument: _stickless_session_v1_RevokeByOwnerRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_stickless_session_v1_RevokeByOwnerResponse__Output>): grpc.ClientUnaryCall;
  RevokeByOwner(argument: _stickless_session_v1_RevokeByOwnerRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_stickless_session_v1_RevokeByOwnerResponse__Output>): grpc.ClientUnaryCall;
  RevokeByOwner(argument: _stickless_session_v1_RevokeByOwnerRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_stickless_session_v1_RevokeByOwnerResponse__Output>): grpc.ClientUnaryCall;
  RevokeByOwner(argument: _stickless_session_v1_RevokeByOwnerRequest, callback: grpc.requestCallback<_stickless_session_v1_RevokeByOwnerResponse__Output>): grpc.ClientUnaryCall;
  revokeByOwner(argument: _stickless_session_v1_RevokeByOwnerRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_stickless_session_v1_RevokeByOwnerResponse__Output>): grpc.ClientUnaryCall;
  revokeByOwner(argument: _stickless_session_v1_RevokeByOwnerRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_stickless_session_v1_RevokeByOwnerResponse__Output>): grpc.ClientUnaryCall;
  revokeByOwner(argument: _stickless_session_v1_RevokeByOwnerRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_stickless_session_v1_RevokeByOwnerResponse__Output>): grpc.ClientUnaryCall;
  revokeByOwner(argument: _stickless_session_v1_RevokeByOwnerRequest, callback: grpc.requestCallback<_stickless_session_v1_RevokeByOwnerResponse__Output>): grpc.ClientUnaryCall;
  
  Touch(argument: _stickless_session_v1_TouchRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_stickless_session_v1_TouchResponse__Output>): grpc.ClientUnaryCall;
  Touch(argument: _stickless_session_v1_TouchRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_stickless_session_v1_TouchResponse__Output>): grpc.ClientUnaryCall;
  Touch(argument: _stickless_session_v1_TouchRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_stickless_session_v1_TouchResponse__Output>): grpc.ClientUnaryCall;
  Touch(argument: _stickless_session_v1_TouchRequest, callback: grpc.requestCallback<_stickless_session_v1_TouchResponse__Output>): grpc.ClientUnaryCall;
  touch(argument: _stickless_session_v1_TouchRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_stickless_session_v1_TouchResponse__Output>): grpc.ClientUnaryCall;
  touch(argument: _stickless_session_v1_TouchRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_stickless_session_v1_TouchResponse__Output>): grpc.ClientUnaryCall;
  touch(argument: _stickless_session_v1_TouchRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_stickless_session_v1_TouchResponse__Output>): grpc.ClientUnaryCall;
  touch(argument: _stickless_session_v1_TouchRequest, callback: grpc.requestCallback<_stickless_session_v1_TouchResponse__Output>): grpc.ClientUnaryCall;
  
  Track(metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientDuplexStream<_stickless_session_v1_TrackRequest, _stickless_session_v1_TrackEvent__Output>;
  Track(options?: grpc.CallOptions): grpc.ClientDuplexStream<_stickless_session_v1_TrackRequest, _stickless_session_v1_TrackEvent__Output>;
  track(metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientDuplexStream<_stickless_session_v1_TrackRequest, _stickless_session_v1_TrackEvent__Output>;
  track(options?: grpc.CallOptions): grpc.ClientDuplexStream<_stickless_session_v1_TrackRequest, _stickless_session_v1_TrackEvent__Output>;
  
  Watch(argument: _stickless_session_v1_WatchRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_stickless_session_v1_WatchEvent__Output>;
  Watch(argument: _stickless_session_v1_WatchRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_stickless_session_v1_WatchEvent__Output>;
  watch(argument: _stickless_session_v1_WatchRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_stickless_session_v1_WatchEvent__Output>;
  watch(argument: _stickless_session_v1_WatchRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_stickless_session_v1_WatchEvent__Output>;
  
}

export interface SessionServiceHandlers extends grpc.UntypedServiceImplementation {
  Create: grpc.handleUnaryCall<_stickless_session_v1_CreateRequest__Output, _stickless_session_v1_SessionResponse>;
  
  Delete: grpc.handleUnaryCall<_stickless_session_v1_DeleteRequest__Output, _stickless_session_v1_DeleteResponse>;
  
  Get: grpc.handleUnaryCall<_stickless_session_v1_GetRequest__Output, _stickless_session_v1_GetResponse>;
  
  ListByOwner: grpc.handleUnaryCall<_stickless_session_v1_ListByOwnerRequest__Output, _stickless_session_v1_ListByOwnerResponse>;
  
  Patch: grpc.handleUnaryCall<_stickless_session_v1_PatchRequest__Output, _stickless_session_v1_SessionResponse>;
  
  Pipeline: grpc.handleBidiStreamingCall<_stickless_session_v1_PipelineRequest__Output, _stickless_session_v1_PipelineReply>;
  
  Put: grpc.handleUnaryCall<_stickless_session_v1_PutRequest__Output, _stickless_session_v1_SessionResponse>;
  
  Regenerate: grpc.handleUnaryCall<_stickless_session_v1_RegenerateRequest__Output, _stickless_session_v1_SessionResponse>;
  
  RevokeByOwner: grpc.handleUnaryCall<_stickless_session_v1_RevokeByOwnerRequest__Output, _stickless_session_v1_RevokeByOwnerResponse>;
  
  Touch: grpc.handleUnaryCall<_stickless_session_v1_TouchRequest__Output, _stickless_session_v1_TouchResponse>;
  
  Track: grpc.handleBidiStreamingCall<_stickless_session_v1_TrackRequest__Output, _stickless_session_v1_TrackEvent>;
  
  Watch: grpc.handleServerStreamingCall<_stickless_session_v1_WatchRequest__Output, _stickless_session_v1_WatchEvent>;
  
}

export interface SessionServiceDefinition extends grpc.ServiceDefinition {
  Create: MethodDefinition<_stickless_session_v1_CreateRequest, _stickless_session_v1_SessionResponse, _stickless_session_v1_CreateRequest__Output, _stickless_session_v1_SessionResponse__Output>
  Delete: MethodDefinition<_stickless_session_v1_DeleteRequest, _stickless_session_v1_DeleteResponse, _stickless_session_v1_DeleteRequest__Output, _stickless_session_v1_DeleteResponse__Output>
  Get: MethodDefinition<_stickless_session_v1_GetRequest, _stickless_session_v1_GetResponse, _stickless_session_v1_GetRequest__Output, _stickless_session_v1_GetResponse__Output>
  ListByOwner: MethodDefinition<_stickless_session_v1_ListByOwnerRequest, _stickless_session_v1_ListByOwnerResponse, _stickless_session_v1_ListByOwnerRequest__Output, _stickless_session_v1_ListByOwnerResponse__Output>
  Patch: MethodDefinition<_stickless_session_v1_PatchRequest, _stickless_session_v1_SessionResponse, _stickless_session_v1_PatchRequest__Output, _stickless_session_v1_SessionResponse__Output>
  Pipeline: MethodDefinition<_stickless_session_v1_PipelineRequest, _stickless_session_v1_PipelineReply, _stickless_session_v1_PipelineRequest__Output, _stickless_session_v1_PipelineReply__Output>
  Put: MethodDefinition<_stickless_session_v1_PutRequest, _stickless_session_v1_SessionResponse, _stickless_session_v1_PutRequest__Output, _stickless_session_v1_SessionResponse__Output>
  Regenerate: MethodDefinition<_stickless_session_v1_RegenerateRequest, _stickless_session_v1_SessionResponse, _stickless_session_v1_RegenerateRequest__Output, _stickless_session_v1_SessionResponse__Output>
  RevokeByOwner: MethodDefinition<_stickless_session_v1_RevokeByOwnerRequest, _stickless_session_v1_RevokeByOwnerResponse, _stickless_session_v1_RevokeByOwnerRequest__Output, _stickless_session_v1_RevokeByOwnerResponse__Output>
  Touch: MethodDefinition<_stickless_session_v1_TouchRequest, _stickless_session_v1_TouchResponse, _stickless_session_v1_TouchRequest__Output, _stickless_session_v1_TouchResponse__Output>
  Track: MethodDefinition<_stickless_session_v1_TrackRequest, _stickless_session_v1_TrackEvent, _stickless_session_v1_TrackRequest__Output, _stickless_session_v1_TrackEvent__Output>
  Watch: MethodDefinition<_stickless_session_v1_WatchRequest, _stickless_session_v1_WatchEvent, _stickless_session_v1_WatchRequest__Output, _stickless_session_v1_WatchEvent__Output>
}
