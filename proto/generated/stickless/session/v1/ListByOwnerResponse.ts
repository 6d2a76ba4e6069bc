// Original file: proto/stickless/session/v1/session.proto

import type { SessionSummary as _stickless_session_v1_SessionSummary, SessionSummary__Output as _stickless_session_v1_SessionSummary__Output } from '../../../stickless/session/v1/SessionSummary.ts';

export interface ListByOwnerResponse {
  'sessions'?: (_stickless_session_v1_SessionSummary)[];
}

export interface ListByOwnerResponse__Output {
  'sessions': (_stickless_session_v1_SessionSummary__Output)[];
}
