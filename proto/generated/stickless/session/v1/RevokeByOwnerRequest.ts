// Original file: proto/stickless/session/v1/session.proto


export interface RevokeByOwnerRequest {
  'namespace'?: (string);
  'owner'?: (string);
  'handles'?: (string)[];
}

export interface RevokeByOwnerRequest__Output {
  'namespace': (string);
  'owner': (string);
  'handles': (string)[];
}
