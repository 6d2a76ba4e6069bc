// Original file: proto/stickless/session/v1/session.proto


export interface TrackRequest {
  'namespace'?: (string);
  'hold'?: (string)[];
  'release'?: (string)[];
}

export interface TrackRequest__Output {
  'namespace': (string);
  'hold': (string)[];
  'release': (string)[];
}
