// JS values <-> standard MessagePack, the only encoding of field values (see session.proto, "Values").
// No msgpackr records, structured clones or typed-array extensions: any language must decode them.
import { Packr } from 'msgpackr';
import { SessionError } from '../proto/errors.ts';

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
  try {
    if (typeof value === 'number' && Number.isSafeInteger(value) && (value > 0xffffffff || value < -0x80000000)) {
      return packr.pack(BigInt(value));
    }
    if (ArrayBuffer.isView(value) && !(value instanceof Uint8Array)) {
      return packr.pack(new Uint8Array(value.buffer, value.byteOffset, value.byteLength));
    }
    return packr.pack(value);
  } catch (error) {
    throw new SessionError('SESS_ERR_INVALID_ARGUMENT', `${name}: cannot encode as MessagePack: ${(error as Error).message}`, { cause: error });
  }
}

export function decodeValue(bytes: Uint8Array): unknown {
  return packr.unpack(bytes);
}

export function encodeFields(fields: Record<string, unknown>): Record<string, Buffer> {
  if (typeof fields !== 'object' || fields === null || Array.isArray(fields)) {
    throw new SessionError('SESS_ERR_INVALID_ARGUMENT', 'fields: expected an object of field name -> value');
  }
  const encoded: Record<string, Buffer> = {};
  for (const [name, value] of Object.entries(fields)) encoded[name] = encodeValue(value, `fields.${name}`);
  return encoded;
}

export function decodeFields(fields: Record<string, Uint8Array>): Record<string, unknown> {
  const decoded: Record<string, unknown> = {};
  for (const [name, bytes] of Object.entries(fields)) decoded[name] = decodeValue(bytes);
  return decoded;
}
