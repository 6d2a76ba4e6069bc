// The value rule of the contract (session.proto, "Values"): a field value is one MessagePack value
// that every client can decode. Server and client share this check: sessiond refuses anything else,
// and the client uses it to name the problem of a value stored before the rule (or behind its back).
//
// Allowed: nil, bool, int, uint (up to 64 bits), float32/64, str (valid UTF-8), bin, array, map with
// str keys, and the timestamp extension (type -1, 4/8/12 data bytes, nanoseconds < 10^9).
// Refused: every other extension type, a map key that is not a str (Python's msgpack refuses them by
// default; msgpackr cannot turn container keys into object keys), invalid UTF-8 in a str, the
// reserved byte 0xc1, and nesting deeper than MAX_VALUE_DEPTH.
//
// The check walks the bytes once without decoding or recursion: a 60,000-deep array costs one pass
// and no stack.
import { isUtf8 } from 'node:buffer';

/**
 * Most containers (arrays and maps) one value may nest: `[[1]]` has depth 2, a scalar depth 0.
 * Deep enough for any session data, shallow enough for every recursive decoder.
 */
export const MAX_VALUE_DEPTH = 64;

/** MessagePack extension type of timestamps, the one extension allowed. */
export const TIMESTAMP_EXTENSION_TYPE = -1;

/**
 * Returns undefined when `bytes` hold exactly one allowed MessagePack value, else why not: one of
 * `'empty'`, `'truncated'`, `'trailing bytes'`, `'reserved byte 0xc1'`, or a sentence naming the
 * extension type, the map key type, the invalid string or the depth limit.
 */
export function checkMsgpackValue(bytes: Uint8Array, maxDepth: number = MAX_VALUE_DEPTH): string | undefined {
  if (bytes.length === 0) return 'empty';
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  // Items still to read in each open container (a map of n pairs counts 2n), and whether it is a map.
  const remaining: number[] = [];
  const isMap: boolean[] = [];
  let pos = 0;
  do {
    if (pos >= bytes.length) return 'truncated';
    const top = remaining.length - 1;
    const isKey = top >= 0 && isMap[top] === true && (remaining[top] as number) % 2 === 0;
    if (top >= 0) remaining[top] = (remaining[top] as number) - 1;
    const b = bytes[pos++] as number;
    if (isKey && !((b >= 0xa0 && b <= 0xbf) || b === 0xd9 || b === 0xda || b === 0xdb)) {
      if (b === 0xc1) return 'reserved byte 0xc1';
      return `map key of type ${typeName(b)} (map keys must be strings)`;
    }
    let skip = 0;
    let children = -1; // >= 0 for a container: its item count
    let map = false;
    let text = false;
    if (b <= 0x7f || b >= 0xe0 || b === 0xc0 || b === 0xc2 || b === 0xc3) {
      // positive/negative fixint, nil, false, true: nothing follows
    } else if (b === 0xc1) return 'reserved byte 0xc1';
    else if (b <= 0x8f) [children, map] = [2 * (b & 0x0f), true];
    else if (b <= 0x9f) children = b & 0x0f;
    else if (b <= 0xbf) [skip, text] = [b & 0x1f, true];
    else {
      const need = HEADER_BYTES[b - 0xc4] ?? 0;
      if (pos + need > bytes.length) return 'truncated';
      const n = need === 1 ? view.getUint8(pos) : need === 2 ? view.getUint16(pos) : need === 4 ? view.getUint32(pos) : 0;
      pos += need;
      switch (b) {
        case 0xc4: case 0xc5: case 0xc6: skip = n; break;
        case 0xd9: case 0xda: case 0xdb: [skip, text] = [n, true]; break;
        case 0xc7: case 0xc8: case 0xc9: {
          const problem = checkExtension(bytes, view, pos, n);
          if (problem) return problem;
          skip = n + 1;
          break;
        }
        case 0xd4: case 0xd5: case 0xd6: case 0xd7: case 0xd8: {
          const size = FIXEXT_BYTES[b - 0xd4] as number;
          const problem = checkExtension(bytes, view, pos, size);
          if (problem) return problem;
          skip = size + 1;
          break;
        }
        case 0xca: skip = 4; break;
        case 0xcb: skip = 8; break;
        case 0xcc: case 0xd0: skip = 1; break;
        case 0xcd: case 0xd1: skip = 2; break;
        case 0xce: case 0xd2: skip = 4; break;
        case 0xcf: case 0xd3: skip = 8; break;
        case 0xdc: case 0xdd: children = n; break;
        case 0xde: case 0xdf: [children, map] = [2 * n, true]; break;
      }
    }
    if (pos + skip > bytes.length) return 'truncated';
    if (text && !isAscii(bytes, pos, pos + skip) && !isUtf8(bytes.subarray(pos, pos + skip))) return `a string that is not valid UTF-8 at byte ${pos}`;
    pos += skip;
    if (children >= 0) {
      if (remaining.length + 1 > maxDepth) return `nesting deeper than ${maxDepth} levels`;
      if (children > 0) {
        remaining.push(children);
        isMap.push(map);
      }
    }
    while (remaining.length > 0 && remaining[remaining.length - 1] === 0) {
      remaining.pop();
      isMap.pop();
    }
  } while (remaining.length > 0);
  return pos === bytes.length ? undefined : 'trailing bytes';
}

// Length-prefix size for the type bytes 0xc4..0xdf (0 where the type has no length prefix).
const HEADER_BYTES = [1, 2, 4, 1, 2, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 4, 2, 4, 2, 4];
// Data bytes of fixext 1, 2, 4, 8, 16 (0xd4..0xd8).
const FIXEXT_BYTES = [1, 2, 4, 8, 16];

/** Most strings are short and ASCII: checked in place, without a subarray and a native call. */
function isAscii(bytes: Uint8Array, from: number, to: number): boolean {
  for (let i = from; i < to; i++) if ((bytes[i] as number) >= 0x80) return false;
  return true;
}

/** An extension whose type byte is at `at` and whose `size` data bytes follow it. */
function checkExtension(bytes: Uint8Array, view: DataView, at: number, size: number): string | undefined {
  if (at + 1 + size > bytes.length) return 'truncated';
  const type = view.getInt8(at);
  if (type !== TIMESTAMP_EXTENSION_TYPE) return `extension type ${type} (only the timestamp extension -1 is allowed)`;
  const data = at + 1;
  let nanoseconds = 0;
  if (size === 8) nanoseconds = view.getUint32(data) >>> 2;
  else if (size === 12) nanoseconds = view.getUint32(data);
  else if (size !== 4) return `a timestamp extension of ${size} data bytes (expected 4, 8 or 12)`;
  if (nanoseconds > 999_999_999) return `a timestamp with ${nanoseconds} nanoseconds (at most 999999999)`;
  return undefined;
}

function typeName(b: number): string {
  if (b <= 0x7f || b >= 0xe0 || (b >= 0xcc && b <= 0xd3)) return 'integer';
  if (b <= 0x8f || b === 0xde || b === 0xdf) return 'map';
  if (b <= 0x9f || b === 0xdc || b === 0xdd) return 'array';
  if (b === 0xc0) return 'nil';
  if (b === 0xc2 || b === 0xc3) return 'bool';
  if (b === 0xca || b === 0xcb) return 'float';
  if (b >= 0xc4 && b <= 0xc6) return 'bin';
  return 'extension';
}
