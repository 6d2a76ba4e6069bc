// Original file: proto/stickless/session/v1/session.proto


export interface WatchRequest {
  'namespace'?: (string);
  'id'?: (string);
}

export interface WatchRequest__Output {
  'namespace': (string);
  'id': (string);
}
