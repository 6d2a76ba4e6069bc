import type * as grpc from '@grpc/grpc-js';
import type { MessageTypeDefinition } from '@grpc/proto-loader';

import type { CreateRequest as _stickless_session_v1_CreateRequest, CreateRequest__Output as _stickless_session_v1_CreateRequest__Output } from './stickless/session/v1/CreateRequest.ts';
import type { DeleteRequest as _stickless_session_v1_DeleteRequest, DeleteRequest__Output as _stickless_session_v1_DeleteRequest__Output } from './stickless/session/v1/DeleteRequest.ts';
import type { DeleteResponse as _stickless_session_v1_DeleteResponse, DeleteResponse__Output as _stickless_session_v1_DeleteResponse__Output } from './stickless/session/v1/DeleteResponse.ts';
import type { FieldOp as _stickless_session_v1_FieldOp, FieldOp__Output as _stickless_session_v1_FieldOp__Output } from './stickless/session/v1/FieldOp.ts';
import type { GetRequest as _stickless_session_v1_GetRequest, GetRequest__Output as _stickless_session_v1_GetRequest__Output } from './stickless/session/v1/GetRequest.ts';
import type { GetResponse as _stickless_session_v1_GetResponse, GetResponse__Output as _stickless_session_v1_GetResponse__Output } from './stickless/session/v1/GetResponse.ts';
import type { ListByOwnerRequest as _stickless_session_v1_ListByOwnerRequest, ListByOwnerRequest__Output as _stickless_session_v1_ListByOwnerRequest__Output } from './stickless/session/v1/ListByOwnerRequest.ts';
import type { ListByOwnerResponse as _stickless_session_v1_ListByOwnerResponse, ListByOwnerResponse__Output as _stickless_session_v1_ListByOwnerResponse__Output } from './stickless/session/v1/ListByOwnerResponse.ts';
import type { MutationOptions as _stickless_session_v1_MutationOptions, MutationOptions__Output as _stickless_session_v1_MutationOptions__Output } from './stickless/session/v1/MutationOptions.ts';
import type { PatchRequest as _stickless_session_v1_PatchRequest, PatchRequest__Output as _stickless_session_v1_PatchRequest__Output } from './stickless/session/v1/PatchRequest.ts';
import type { PipelineError as _stickless_session_v1_PipelineError, PipelineError__Output as _stickless_session_v1_PipelineError__Output } from './stickless/session/v1/PipelineError.ts';
import type { PipelineReply as _stickless_session_v1_PipelineReply, PipelineReply__Output as _stickless_session_v1_PipelineReply__Output } from './stickless/session/v1/PipelineReply.ts';
import type { PipelineRequest as _stickless_session_v1_PipelineRequest, PipelineRequest__Output as _stickless_session_v1_PipelineRequest__Output } from './stickless/session/v1/PipelineRequest.ts';
import type { PutRequest as _stickless_session_v1_PutRequest, PutRequest__Output as _stickless_session_v1_PutRequest__Output } from './stickless/session/v1/PutRequest.ts';
import type { RegenerateRequest as _stickless_session_v1_RegenerateRequest, RegenerateRequest__Output as _stickless_session_v1_RegenerateRequest__Output } from './stickless/session/v1/RegenerateRequest.ts';
import type { RevokeByOwnerRequest as _stickless_session_v1_RevokeByOwnerRequest, RevokeByOwnerRequest__Output as _stickless_session_v1_RevokeByOwnerRequest__Output } from './stickless/session/v1/RevokeByOwnerRequest.ts';
import type { RevokeByOwnerResponse as _stickless_session_v1_RevokeByOwnerResponse, RevokeByOwnerResponse__Output as _stickless_session_v1_RevokeByOwnerResponse__Output } from './stickless/session/v1/RevokeByOwnerResponse.ts';
import type { Session as _stickless_session_v1_Session, Session__Output as _stickless_session_v1_Session__Output } from './stickless/session/v1/Session.ts';
import type { SessionResponse as _stickless_session_v1_SessionResponse, SessionResponse__Output as _stickless_session_v1_SessionResponse__Output } from './stickless/session/v1/SessionResponse.ts';
import type { SessionServiceClient as _stickless_session_v1_SessionServiceClient, SessionServiceDefinition as _stickless_session_v1_SessionServiceDefinition } from './stickless/session/v1/SessionService.ts';
import type { SessionSummary as _stickless_session_v1_SessionSummary, SessionSummary__Output as _stickless_session_v1_SessionSummary__Output } from './stickless/session/v1/SessionSummary.ts';
import type { TouchRequest as _stickless_session_v1_TouchRequest, TouchRequest__Output as _stickless_session_v1_TouchRequest__Output } from './stickless/session/v1/TouchRequest.ts';
import type { TouchResponse as _stickless_session_v1_TouchResponse, TouchResponse__Output as _stickless_session_v1_TouchResponse__Output } from './stickless/session/v1/TouchResponse.ts';
import type { TrackEvent as _stickless_session_v1_TrackEvent, TrackEvent__Output as _stickless_session_v1_TrackEvent__Output } from './stickless/session/v1/TrackEvent.ts';
import type { TrackRequest as _stickless_session_v1_TrackRequest, TrackRequest__Output as _stickless_session_v1_TrackRequest__Output } from './stickless/session/v1/TrackRequest.ts';
import type { WatchEvent as _stickless_session_v1_WatchEvent, WatchEvent__Output as _stickless_session_v1_WatchEvent__Output } from './stickless/session/v1/WatchEvent.ts';
import type { WatchRequest as _stickless_session_v1_WatchRequest, WatchRequest__Output as _stickless_session_v1_WatchRequest__Output } from './stickless/session/v1/WatchRequest.ts';

type SubtypeConstructor<Constructor extends new (...args: any) => any, Subtype> = {
  new(...args: ConstructorParameters<Constructor>): Subtype;
};

export interface ProtoGrpcType {
  stickless: {
    session: {
      v1: {
        CreateRequest: MessageTypeDefinition<_stickless_session_v1_CreateRequest, _stickless_session_v1_CreateRequest__Output>
        DeleteRequest: MessageTypeDefinition<_stickless_session_v1_DeleteRequest, _stickless_session_v1_DeleteRequest__Output>
        DeleteResponse: MessageTypeDefinition<_stickless_session_v1_DeleteResponse, _stickless_session_v1_DeleteResponse__Output>
        FieldOp: MessageTypeDefinition<_stickless_session_v1_FieldOp, _stickless_session_v1_FieldOp__Output>
        GetRequest: MessageTypeDefinition<_stickless_session_v1_GetRequest, _stickless_session_v1_GetRequest__Output>
        GetResponse: MessageTypeDefinition<_stickless_session_v1_GetResponse, _stickless_session_v1_GetResponse__Output>
        ListByOwnerRequest: MessageTypeDefinition<_stickless_session_v1_ListByOwnerRequest, _stickless_session_v1_ListByOwnerRequest__Output>
        ListByOwnerResponse: MessageTypeDefinition<_stickless_session_v1_ListByOwnerResponse, _stickless_session_v1_ListByOwnerResponse__Output>
        MutationOptions: MessageTypeDefinition<_stickless_session_v1_MutationOptions, _stickless_session_v1_MutationOptions__Output>
        PatchRequest: MessageTypeDefinition<_stickless_session_v1_PatchRequest, _stickless_session_v1_PatchRequest__Output>
        PipelineError: MessageTypeDefinition<_stickless_session_v1_PipelineError, _stickless_session_v1_PipelineError__Output>
        PipelineReply: MessageTypeDefinition<_stickless_session_v1_PipelineReply, _stickless_session_v1_PipelineReply__Output>
        PipelineRequest: MessageTypeDefinition<_stickless_session_v1_PipelineRequest, _stickless_session_v1_PipelineRequest__Output>
        PutRequest: MessageTypeDefinition<_stickless_session_v1_PutRequest, _stickless_session_v1_PutRequest__Output>
        RegenerateRequest: MessageTypeDefinition<_stickless_session_v1_RegenerateRequest, _stickless_session_v1_RegenerateRequest__Output>
        RevokeByOwnerRequest: MessageTypeDefinition<_stickless_session_v1_RevokeByOwnerRequest, _stickless_session_v1_RevokeByOwnerRequest__Output>
        RevokeByOwnerResponse: MessageTypeDefinition<_stickless_session_v1_RevokeByOwnerResponse, _stickless_session_v1_RevokeByOwnerResponse__Output>
        Session: MessageTypeDefinition<_stickless_session_v1_Session, _stickless_session_v1_Session__Output>
        SessionResponse: MessageTypeDefinition<_stickless_session_v1_SessionResponse, _stickless_session_v1_SessionResponse__Output>
        SessionService: SubtypeConstructor<typeof grpc.Client, _stickless_session_v1_SessionServiceClient> & { service: _stickless_session_v1_SessionServiceDefinition }
        SessionSummary: MessageTypeDefinition<_stickless_session_v1_SessionSummary, _stickless_session_v1_SessionSummary__Output>
        TouchRequest: MessageTypeDefinition<_stickless_session_v1_TouchRequest, _stickless_session_v1_TouchRequest__Output>
        TouchResponse: MessageTypeDefinition<_stickless_session_v1_TouchResponse, _stickless_session_v1_TouchResponse__Output>
        TrackEvent: MessageTypeDefinition<_stickless_session_v1_TrackEvent, _stickless_session_v1_TrackEvent__Output>
        TrackRequest: MessageTypeDefinition<_stickless_session_v1_TrackRequest, _stickless_session_v1_TrackRequest__Output>
        WatchEvent: MessageTypeDefinition<_stickless_session_v1_WatchEvent, _stickless_session_v1_WatchEvent__Output>
        WatchRequest: MessageTypeDefinition<_stickless_session_v1_WatchRequest, _stickless_session_v1_WatchRequest__Output>
      }
    }
  }
}

