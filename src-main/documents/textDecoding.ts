// Bytes to text for plain-text formats. Binary files are refused (NUL bytes are the classic
// tell); byte-order marks pick UTF-16; anything not valid UTF-8 is read as Windows-1252, the
// usual encoding of older text files, with a warning.

export interface DecodedText {
  text: string;
  encoding: 'utf-8' | 'utf-16le' | 'utf-16be' | 'windows-1252';
  warnings: string[];
}

/** Returns null for bytes that look binary. */
export function decodeTextBytes(bytes: Uint8Array): DecodedText | null {
  if (startsWith(bytes, [0xef, 0xbb, 0xbf])) return decodeUtf8(bytes.subarray(3));
  if (startsWith(bytes, [0xff, 0xfe])) return decodeWith('utf-16le', bytes.subarray(2));
  if (startsWith(bytes, [0xfe, 0xff])) return decodeWith('utf-16be', bytes.subarray(2));
  if (bytes.includes(0)) return null;
  return decodeUtf8(bytes);
}

function decodeUtf8(bytes: Uint8Array): DecodedText | null {
  try {
    return { text: new TextDecoder('utf-8', { fatal: true }).decode(bytes), encoding: 'utf-8', warnings: [] };
  } catch {
    const text = decodeWindows1252(bytes);
    if (looksBinary(text)) return null;
    return {
      text,
      encoding: 'windows-1252',
      warnings: ['The file is not valid UTF-8; it was read as Windows-1252 (Western European).'],
    };
  }
}

function decodeWith(encoding: 'utf-16le' | 'utf-16be', bytes: Uint8Array): DecodedText | null {
  const text = new TextDecoder(encoding).decode(bytes);
  return looksBinary(text) ? null : { text, encoding, warnings: [] };
}

/** More than 10% control characters (other than tab, newlines, form feed) is not prose or code. */
function looksBinary(text: string): boolean {
  if (text.length === 0) return false;
  let controls = 0;
  for (let index = 0; index < text.length; index += 1) {
    if (isBinaryControl(text.charCodeAt(index))) controls += 1;
  }
  return controls / text.length > 0.1;
}

/** C0 controls except tab, line feed, vertical tab, form feed and carriage return; plus DEL. */
function isBinaryControl(code: number): boolean {
  return (code < 0x20 && (code < 0x09 || code > 0x0d)) || code === 0x7f;
}

function startsWith(bytes: Uint8Array, prefix: number[]): boolean {
  return prefix.every((byte, index) => bytes[index] === byte);
}

/** Windows-1252 differs from Latin-1 only in 0x80-0x9F (curly quotes, euro sign, dashes). */
const WINDOWS_1252_HIGH =
  '\u20ac\u0081\u201a\u0192\u201e\u2026\u2020\u2021\u02c6\u2030\u0160\u2039\u0152\u008d\u017d\u008f' +
  '\u0090\u2018\u2019\u201c\u201d\u2022\u2013\u2014\u02dc\u2122\u0161\u203a\u0153\u009d\u017e\u0178';

// Written out because Node 20's TextDecoder('windows-1252') decodes 0x80-0x9F as Latin-1.
function decodeWindows1252(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length)
    .toString('latin1')
    .replace(/[\u0080-\u009f]/g, (char) => WINDOWS_1252_HIGH[char.charCodeAt(0) - 0x80] ?? char);
}
