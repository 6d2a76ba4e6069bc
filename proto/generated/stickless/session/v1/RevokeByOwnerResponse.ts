// Original file: proto/stickless/session/v1/session.proto


export interface RevokeByOwnerResponse {
  'revoked'?: (number);
}

export interface RevokeByOwnerResponse__Output {
  'revoked': (number);
}
