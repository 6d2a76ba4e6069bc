// Original file: proto/stickless/session/v1/session.proto


export interface GetRequest {
  'namespace'?: (string);
  'id'?: (string);
  'fields'?: (string)[];
  'slide'?: (boolean);
}

export interface GetRequest__Output {
  'namespace': (string);
  'id': (string);
  'fields': (string)[];
  'slide': (boolean);
}
