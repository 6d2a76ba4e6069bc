// JS values <-> standard MessagePack, the only encoding of field values (see session.proto, "Values").
// No msgpackr records, structured clones or typed-array extensions: any language must decode them.
import { Packr } from 'msgpackr';
import { SessionError } from '../proto/errors.ts';
import { checkMsgpackValue } from '../proto/msgpack-value.ts';

const packr = new Packr({
  // The server writes counters past 2^32 as int64; give them back as numbers while they are exact.
  // @ts-expect-error 'auto' is supported by msgpackr's unpacker (unpack.js) but missing from its typings.
  int64AsType: 'auto',
  useRecords: false,
  moreTypes: false,
  structuredClone: false,
  bundleStrings: false,
  // msgpackr writes `undefined` as a private extension by default; nil is what other decoders know.
  encodeUndefinedAsNil: true,
  mapsAsObjects: true,
});

/**
 * Encodes one field value. Top-level safe integers beyond 32 bits go out as MessagePack int64, not
 * as the float64 msgpackr would choose, so the server still sees an integer (for `increment`).
 * A top-level typed array, DataView or ArrayBuffer goes out as its raw bytes (bin) and comes back as
 * a Buffer. Nested integers beyond 32 bits are float64 (exact up to 2^53); nested typed arrays other
 * than Uint8Array are not supported (msgpackr 2.1 copies them element-wise into bin, corrupting them).
 */
export function encodeValue(value: unknown, name: string): Buffer {
  let bytes: Buffer;
  try {
    if (typeof value === 'number' && Number.isSafeInteger(value) && (value > 0xffffffff || value < -0x80000000)) {
      bytes = packr.pack(BigInt(value));
    } else if (ArrayBuffer.isView(value) && !(value instanceof Uint8Array)) {
      bytes = packr.pack(new Uint8Array(value.buffer, value.byteOffset, value.byteLength));
    } else {
      bytes = packr.pack(value);
    }
  } catch (error) {
    throw new SessionError('SESS_ERR_INVALID_ARGUMENT', `${name}: cannot encode as MessagePack: ${(error as Error).message}`, { cause: error });
  }
  // The server's rule, checked here so the caller learns it before a round trip (a Map with number
  // keys, nesting beyond MAX_VALUE_DEPTH).
  const problem = checkMsgpackValue(bytes);
  if (problem) throw new SessionError('SESS_ERR_INVALID_ARGUMENT', `${name}: not storable as standard MessagePack (${problem})`);
  return bytes;
}

/**
 * Decodes one stored value. A value this client cannot decode (written before sessiond refused it,
 * or straight into Redis) throws SESS_ERR_UNDECODABLE_FIELD naming the field, never anything else.
 */
export function decodeValue(bytes: Uint8Array, name: string): unknown {
  try {
    return packr.unpack(bytes);
  } catch (error) {
    // Name the problem by the contract's rule when it has one; the decoder's own words stay in `cause`.
    const reason = checkMsgpackValue(bytes) ?? 'not a MessagePack value this client can decode';
    throw new SessionError('SESS_ERR_UNDECODABLE_FIELD', `field "${name}": cannot decode its value (${reason}); its bytes are in rawFields["${name}"]`, { cause: error });
  }
}

export function encodeFields(fields: Record<string, unknown>): Record<string, Buffer> {
  if (typeof fields !== 'object' || fields === null || Array.isArray(fields)) {
    throw new SessionError('SESS_ERR_INVALID_ARGUMENT', 'fields: expected an object of field name -> value');
  }
  const encoded: Record<string, Buffer> = {};
  for (const [name, value] of Object.entries(fields)) encoded[name] = encodeValue(value, `fields.${name}`);
  return encoded;
}

/** Decoded fields, and the error of each field that could not be decoded (absent from `fields`). */
export interface DecodedFields {
  fields: Record<string, unknown>;
  fieldErrors: Record<string, SessionError>;
}

/** Decodes every field on its own, so one undecodable value hides no other field. */
export function decodeFields(raw: Record<string, Uint8Array>): DecodedFields {
  const fields: Record<string, unknown> = {};
  const fieldErrors: Record<string, SessionError> = {};
  for (const [name, bytes] of Object.entries(raw)) {
    try {
      fields[name] = decodeValue(bytes, name);
    } catch (error) {
      fieldErrors[name] = error as SessionError;
    }
  }
  return { fields, fieldErrors };
}
