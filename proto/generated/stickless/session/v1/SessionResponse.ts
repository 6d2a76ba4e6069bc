// Original file: proto/stickless/session/v1/session.proto

import type { Session as _stickless_session_v1_Session, Session__Output as _stickless_session_v1_Session__Output } from '../../../stickless/session/v1/Session.ts';

export interface SessionResponse {
  'session'?: (_stickless_session_v1_Session | null);
  'replayed'?: (boolean);
}

export interface SessionResponse__Output {
  'session': (_stickless_session_v1_Session__Output | null);
  'replayed': (boolean);
}
