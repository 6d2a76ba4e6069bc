// MessagePack at the byte level, for the three things the server does with opaque values: check that
// bytes are exactly one allowed value (proto/msgpack-value.ts), add to a number, and append to an
// array. Byte-level work keeps every other value untouched (no decode/re-encode of strings, binaries
// or timestamps) and
// produces the same bytes as the Lua side in redis-scripts.ts, which follows the same rules:
// integers in their smallest encoding, floats as float64, array headers in their smallest form.

// The value rule (which bytes are one allowed value) is part of the contract, shared with the client.
export { checkMsgpackValue, MAX_VALUE_DEPTH } from '../proto/msgpack-value.ts';

/** The largest integer an increment may produce: Lua numbers (and JS numbers) are exact up to it. */
export const MAX_SAFE_COUNTER = Number.MAX_SAFE_INTEGER;

/** A decoded MessagePack number, or why the bytes are not one. */
export type DecodedNumber = { kind: 'int' | 'float'; value: number } | { kind: 'not-a-number' } | { kind: 'out-of-range' };

export function decodeMsgpackNumber(bytes: Uint8Array): DecodedNumber {
  const b = bytes[0];
  if (b === undefined) return { kind: 'not-a-number' };
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const size = NUMBER_SIZES.get(b) ?? (b <= 0x7f || b >= 0xe0 ? 0 : -1);
  if (size < 0 || bytes.length !== 1 + size) return { kind: 'not-a-number' };
  if (b <= 0x7f) return { kind: 'int', value: b };
  if (b >= 0xe0) return { kind: 'int', value: b - 0x100 };
  switch (b) {
    case 0xca: return { kind: 'float', value: view.getFloat32(1) };
    case 0xcb: return { kind: 'float', value: view.getFloat64(1) };
    case 0xcc: return { kind: 'int', value: view.getUint8(1) };
    case 0xcd: return { kind: 'int', value: view.getUint16(1) };
    case 0xce: return { kind: 'int', value: view.getUint32(1) };
    case 0xd0: return { kind: 'int', value: view.getInt8(1) };
    case 0xd1: return { kind: 'int', value: view.getInt16(1) };
    case 0xd2: return { kind: 'int', value: view.getInt32(1) };
  }
  const big = b === 0xcf ? view.getBigUint64(1) : view.getBigInt64(1);
  if (big > BigInt(MAX_SAFE_COUNTER) || big < -BigInt(MAX_SAFE_COUNTER)) return { kind: 'out-of-range' };
  return { kind: 'int', value: Number(big) };
}

const NUMBER_SIZES = new Map([
  [0xca, 4], [0xcb, 8], [0xcc, 1], [0xcd, 2], [0xce, 4], [0xcf, 8], [0xd0, 1], [0xd1, 2], [0xd2, 4], [0xd3, 8],
]);

/** Smallest MessagePack encoding of a safe integer (the rule redis-scripts.ts follows too). */
export function encodeMsgpackInt(value: number): Uint8Array {
  if (value >= 0) {
    if (value < 0x80) return Uint8Array.of(value);
    if (value < 0x100) return Uint8Array.of(0xcc, value);
    if (value < 0x10000) return withView(3, (v) => { v.setUint8(0, 0xcd); v.setUint16(1, value); });
    if (value < 0x100000000) return withView(5, (v) => { v.setUint8(0, 0xce); v.setUint32(1, value); });
    return withView(9, (v) => { v.setUint8(0, 0xcf); v.setBigUint64(1, BigInt(value)); });
  }
  if (value >= -32) return Uint8Array.of(value + 0x100);
  if (value >= -0x80) return withView(2, (v) => { v.setUint8(0, 0xd0); v.setInt8(1, value); });
  if (value >= -0x8000) return withView(3, (v) => { v.setUint8(0, 0xd1); v.setInt16(1, value); });
  if (value >= -0x80000000) return withView(5, (v) => { v.setUint8(0, 0xd2); v.setInt32(1, value); });
  return withView(9, (v) => { v.setUint8(0, 0xd3); v.setBigInt64(1, BigInt(value)); });
}

/** float64 encoding (0xcb), always, so a float field stays a float. */
export function encodeMsgpackFloat(value: number): Uint8Array {
  return withView(9, (v) => { v.setUint8(0, 0xcb); v.setFloat64(1, value); });
}

function withView(size: number, fill: (view: DataView) => void): Uint8Array {
  const out = new Uint8Array(size);
  fill(new DataView(out.buffer));
  return out;
}

/**
 * Appends one encoded element to an encoded array (undefined counts as an empty array), rewriting
 * only the header. Returns undefined when `array` is not a MessagePack array.
 */
export function appendToMsgpackArray(array: Uint8Array | undefined, element: Uint8Array): Uint8Array | undefined {
  let count = 0;
  let headerLength = 0;
  if (array !== undefined) {
    const b = array[0];
    const view = new DataView(array.buffer, array.byteOffset, array.byteLength);
    if (b !== undefined && b >= 0x90 && b <= 0x9f) [count, headerLength] = [b & 0x0f, 1];
    else if (b === 0xdc && array.length >= 3) [count, headerLength] = [view.getUint16(1), 3];
    else if (b === 0xdd && array.length >= 5) [count, headerLength] = [view.getUint32(1), 5];
    else return undefined;
  }
  const next = count + 1;
  const header = next <= 15
    ? Uint8Array.of(0x90 | next)
    : next <= 0xffff
      ? withView(3, (v) => { v.setUint8(0, 0xdc); v.setUint16(1, next); })
      : withView(5, (v) => { v.setUint8(0, 0xdd); v.setUint32(1, next); });
  const body = array === undefined ? new Uint8Array(0) : array.subarray(headerLength);
  const out = new Uint8Array(header.length + body.length + element.length);
  out.set(header, 0);
  out.set(body, header.length);
  out.set(element, header.length + body.length);
  return out;
}
