// Original file: proto/stickless/session/v1/session.proto


export interface ListByOwnerRequest {
  'namespace'?: (string);
  'owner'?: (string);
}

export interface ListByOwnerRequest__Output {
  'namespace': (string);
  'owner': (string);
}
