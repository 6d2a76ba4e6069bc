// issue 7: the authorization scheme is case-insensitive (RFC 9110 §11.1): `bearer <token>` and
// `BEARER <token>` authenticate like `Bearer <token>`; other schemes and a missing space do not.
import * as grpc from '@grpc/grpc-js';
import test from 'ava';
import type { SessionResponse__Output } from '../../proto/generated/stickless/session/v1/SessionResponse.ts';
import { call, errorCode, rawStub } from '../helpers/grpc.ts';
import { startSessiond } from '../helpers/servers.ts';

const TOKEN = '0123456789abcdef-shop';

function withAuthorization(value: string): grpc.Metadata {
  const metadata = new grpc.Metadata();
  metadata.set('authorization', value);
  return metadata;
}

test('the Bearer scheme is matched without regard to case, with one or more spaces before the token', async (t) => {
  const sessiond = await startSessiond(t, { store: 'memory', config: { namespaceTokens: { [TOKEN]: ['shop'] } } });
  const stub = rawStub(t, sessiond.address);
  for (const header of [`Bearer ${TOKEN}`, `bearer ${TOKEN}`, `BEARER ${TOKEN}`, `bEaReR  ${TOKEN}`]) {
    const created = await call<object, SessionResponse__Output>(stub, 'Create', { namespace: 'shop' }, { metadata: withAuthorization(header) });
    t.truthy(created.session?.id, header);
  }
  for (const header of [`Basic ${TOKEN}`, `Bearer${TOKEN}`, TOKEN]) {
    const error = await t.throwsAsync(call(stub, 'Create', { namespace: 'shop' }, { metadata: withAuthorization(header) }));
    t.is((error as unknown as grpc.ServiceError).code, grpc.status.UNAUTHENTICATED, header);
    t.is(errorCode(error), 'SESS_ERR_UNAUTHENTICATED', header);
  }
  const wrong = await t.throwsAsync(call(stub, 'Create', { namespace: 'shop' }, { metadata: withAuthorization(`bearer ${TOKEN}x`) }));
  t.is(errorCode(wrong), 'SESS_ERR_PERMISSION_DENIED', 'a lower-case scheme with an unknown token is still refused');
});
