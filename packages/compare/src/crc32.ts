import zlib from 'node:zlib';

let table: Uint32Array | undefined;

function crc32Js(data: Uint8Array, value: number): number {
  if (!table) {
    table = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      table[n] = c >>> 0;
    }
  }
  let c = ~value >>> 0;
  for (let i = 0; i < data.length; i++) c = table[(c ^ data[i]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}

// zlib.crc32 exists from Node 20.15; older 20.x releases get the table version
const native = (zlib as { crc32?: (data: Uint8Array, value?: number) => number }).crc32;

/** CRC-32 (the gzip trailer's checksum) of `data`, continuing from `value`. */
export function crc32(data: Uint8Array, value = 0): number {
  return native ? native(data, value) : crc32Js(data, value);
}
