// Offline ticket verification for the gate scanner: the browser twin of
// gathering/registration/ticket_codes.py (codes) and revocation.py (gate bundle).
// Keep the checks and their order identical to the Python ones: the tests compare them.
//
//   import { decodeGateBundle, verifyTicket } from "./ticket-verify.js";
//   const bundle = decodeGateBundle(await (await fetch(url)).text());
//   const verdict = await verifyTicket(scannedText, bundle, Date.now());
//   verdict.status === VerdictStatus.VALID
//
// Signatures are checked with WebCrypto Ed25519; nothing here needs the network.

export const VerdictStatus = Object.freeze({
  VALID: "valid",
  MALFORMED: "malformed",
  UNKNOWN_KEY: "unknown_key",
  FORGED: "forged",
  REVOKED: "revoked",
  WRONG_EDITION: "wrong_edition",
  NOT_YET_VALID: "not_yet_valid",
  EXPIRED: "expired",
});

export const CategoryCode = Object.freeze({
  ATTENDEE: 1,
  DELEGATION: 2,
  PRESS: 3,
  GUEST: 4,
  VOLUNTEER: 5,
  STAFF: 6,
});

export class MalformedTicketError extends Error {
  constructor(message) {
    super(message);
    this.name = "MalformedTicketError";
  }
}

export class GateBundleError extends Error {
  constructor(message) {
    super(message);
    this.name = "GateBundleError";
  }
}

const PREFIX = "GT1:";
const VERSION = 1;
const PAYLOAD_BYTES = 22;
const SIGNATURE_BYTES = 64;
const CODE_BYTES = PAYLOAD_BYTES + SIGNATURE_BYTES;
const BODY_CHARS = Math.ceil((CODE_BYTES * 8) / 5); // 138
const CODE_LENGTH = PREFIX.length + BODY_CHARS; // 142
const CATEGORY_VALUES = new Set(Object.values(CategoryCode));
const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
const BASE32 = new Int8Array(128).fill(-1);
for (let i = 0; i < ALPHABET.length; i++) BASE32[ALPHABET.charCodeAt(i)] = i;

function hex(bytes) {
  let text = "";
  for (const byte of bytes) text += byte.toString(16).padStart(2, "0");
  return text;
}

// RFC 4648 base32, uppercase, unpadded, canonical: the unused low bits of the last character
// must be zero, so that a code has exactly one spelling.
export function base32Decode(text, byteLength) {
  if (text.length !== Math.ceil((byteLength * 8) / 5)) {
    throw new MalformedTicketError("wrong length");
  }
  const out = new Uint8Array(byteLength);
  let buffer = 0;
  let bits = 0;
  let index = 0;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    const value = code < 128 ? BASE32[code] : -1;
    if (value < 0) throw new MalformedTicketError("not base32");
    buffer = (buffer << 5) | value;
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out[index++] = (buffer >> bits) & 0xff;
      buffer &= (1 << bits) - 1;
    }
  }
  if (buffer !== 0) throw new MalformedTicketError("not canonical base32");
  return out;
}

// Parse a code without checking its signature; throws MalformedTicketError for anything that
// is not exactly a code in canonical form.
export function decodeTicket(code) {
  if (typeof code !== "string") throw new MalformedTicketError("not text");
  if (code.length !== CODE_LENGTH) throw new MalformedTicketError("wrong length");
  if (!code.startsWith(PREFIX)) throw new MalformedTicketError("wrong prefix");
  const raw = base32Decode(code.slice(PREFIX.length), CODE_BYTES);
  const view = new DataView(raw.buffer);
  const version = view.getUint8(0);
  const keyId = view.getUint16(1);
  const ticketId = raw.slice(3, 11);
  const editionYear = view.getUint16(11);
  const category = view.getUint8(13);
  const validFrom = view.getUint32(14);
  const validUntil = view.getUint32(18);
  if (version !== VERSION) throw new MalformedTicketError("unknown format version");
  if (keyId === 0) throw new MalformedTicketError("key id 0");
  if (!CATEGORY_VALUES.has(category)) throw new MalformedTicketError("unknown category");
  if (validFrom >= validUntil) throw new MalformedTicketError("empty validity window");
  return {
    claims: {
      ticketId,
      ticketIdHex: hex(ticketId),
      editionYear,
      category,
      validFrom: new Date(validFrom * 1000),
      validUntil: new Date(validUntil * 1000),
    },
    keyId,
    signed: raw.subarray(0, PAYLOAD_BYTES),
    signature: raw.subarray(PAYLOAD_BYTES),
  };
}

const importedKeys = new WeakMap();

function importKey(raw) {
  let key = importedKeys.get(raw);
  if (!key) {
    key = crypto.subtle.importKey("raw", raw, { name: "Ed25519" }, false, ["verify"]);
    importedKeys.set(raw, key);
  }
  return key;
}

function verdict(status, decoded = null) {
  return {
    status,
    accepted: status === VerdictStatus.VALID,
    ticketId: decoded && decoded.claims ? decoded.claims.ticketIdHex : null,
    category: decoded && decoded.claims ? decoded.claims.category : null,
    claims: decoded ? decoded.claims : null,
    keyId: decoded ? decoded.keyId : null,
  };
}

// Decide on a scanned code offline, in the order of the server: malformed, unknown key,
// forged, wrong edition, revoked, not yet valid, expired, valid. `bundle` comes from
// decodeGateBundle; `now` is a Date or milliseconds since 1970. Never throws because of `code`.
// ticketId and category are set only once the signature checked out.
export async function verifyTicket(code, bundle, now = Date.now()) {
  let decoded;
  try {
    decoded = decodeTicket(code);
  } catch {
    return verdict(VerdictStatus.MALFORMED);
  }
  const untrusted = { claims: null, keyId: decoded.keyId };
  const raw = bundle.publicKeys.get(decoded.keyId);
  if (!raw) return verdict(VerdictStatus.UNKNOWN_KEY, untrusted);
  let key;
  try {
    key = await importKey(raw);
  } catch {
    importedKeys.delete(raw);
    return verdict(VerdictStatus.UNKNOWN_KEY, untrusted);
  }
  let genuine = false;
  try {
    genuine = await crypto.subtle.verify(
      { name: "Ed25519" },
      key,
      decoded.signature,
      decoded.signed,
    );
  } catch {
    genuine = false;
  }
  if (!genuine) return verdict(VerdictStatus.FORGED, untrusted);
  const { claims } = decoded;
  const nowMs = now instanceof Date ? now.getTime() : Number(now);
  if (claims.editionYear !== bundle.editionYear) {
    return verdict(VerdictStatus.WRONG_EDITION, decoded);
  }
  if (bundle.revoked.has(claims.ticketIdHex)) return verdict(VerdictStatus.REVOKED, decoded);
  if (nowMs < claims.validFrom.getTime()) return verdict(VerdictStatus.NOT_YET_VALID, decoded);
  if (nowMs >= claims.validUntil.getTime()) return verdict(VerdictStatus.EXPIRED, decoded);
  return verdict(VerdictStatus.VALID, decoded);
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

function base64Decode(text, name) {
  if (typeof text !== "string" || !BASE64.test(text)) {
    throw new GateBundleError(`${name} is not valid base64`);
  }
  const binary = atob(text);
  const out = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) out[i] = binary.charCodeAt(i);
  return out;
}

function integer(value, low, high, name) {
  if (!Number.isInteger(value) || value < low || value > high) {
    throw new GateBundleError(`${name} must be an integer in ${low}..${high}`);
  }
  return value;
}

// Rice-coded gaps between sorted 64-bit ids (see revocation.py); returns a Set of 16-digit
// lowercase hex ids, the form verifyTicket looks up.
function riceDecode(bytes, count, k) {
  const total = bytes.length * 8;
  if (count > total) throw new GateBundleError("revoked count exceeds the data");
  const ids = new Set();
  const shift = BigInt(k);
  const limit = 1n << 64n;
  let position = 0;
  let previous = -1n;
  const bit = (p) => (bytes[p >> 3] >> (7 - (p & 7))) & 1;
  for (let i = 0; i < count; i++) {
    let quotient = 0;
    while (position < total && bit(position) === 1) {
      quotient++;
      position++;
    }
    if (position + 1 + k > total) throw new GateBundleError("revoked ids are truncated");
    position++; // the 0 that ends the unary part
    let low = 0n;
    for (let remaining = k; remaining > 0; ) {
      const take = Math.min(remaining, 30);
      let chunk = 0;
      for (let j = 0; j < take; j++) chunk = (chunk << 1) | bit(position++);
      low = (low << BigInt(take)) | BigInt(chunk);
      remaining -= take;
    }
    const value = previous + 1n + ((BigInt(quotient) << shift) | low);
    if (value >= limit) throw new GateBundleError("a revoked id is out of range");
    ids.add(value.toString(16).padStart(16, "0"));
    previous = value;
  }
  if (total - position >= 8) throw new GateBundleError("trailing data after the revoked ids");
  for (; position < total; position++) {
    if (bit(position)) throw new GateBundleError("trailing data after the revoked ids");
  }
  return ids;
}

// Read a gate bundle (JSON text, its UTF-8 bytes, or the parsed object). Returns
// { editionYear, generatedAt: Date, publicKeys: Map<keyId, Uint8Array>, revoked: Set<hex> }.
export function decodeGateBundle(input) {
  let document = input;
  if (input instanceof ArrayBuffer || ArrayBuffer.isView(input)) {
    document = new TextDecoder().decode(input);
  }
  if (typeof document === "string") {
    try {
      document = JSON.parse(document);
    } catch {
      throw new GateBundleError("not JSON");
    }
  }
  if (!document || typeof document !== "object" || Array.isArray(document)) {
    throw new GateBundleError("not a gate bundle");
  }
  if (document.format !== "gathering.gate-bundle" || document.version !== 1) {
    throw new GateBundleError("not a gate bundle of this version");
  }
  const editionYear = integer(document.edition_year, 0, 0xffff, "edition_year");
  const generatedAt = new Date(document.generated_at);
  if (typeof document.generated_at !== "string" || Number.isNaN(generatedAt.getTime())) {
    throw new GateBundleError("generated_at must be an ISO 8601 time");
  }
  const keys = document.keys;
  if (!keys || typeof keys !== "object" || Array.isArray(keys)) {
    throw new GateBundleError("keys must be an object");
  }
  const publicKeys = new Map();
  for (const [keyText, encoded] of Object.entries(keys)) {
    if (!/^\d{1,5}$/.test(keyText) || Number(keyText) < 1 || Number(keyText) > 0xffff) {
      throw new GateBundleError("key ids must be integers in 1..65535");
    }
    const raw = base64Decode(encoded, "a public key");
    if (raw.length !== 32) throw new GateBundleError("public keys must be 32 bytes");
    publicKeys.set(Number(keyText), raw);
  }
  const revoked = document.revoked;
  if (!revoked || typeof revoked !== "object" || Array.isArray(revoked)) {
    throw new GateBundleError("revoked must be an object");
  }
  const count = integer(revoked.count, 0, 2 ** 32, "revoked count");
  const k = integer(revoked.rice_k, 0, 63, "rice_k");
  const data = base64Decode(revoked.data, "revoked data");
  return { editionYear, generatedAt, publicKeys, revoked: riceDecode(data, count, k) };
}
