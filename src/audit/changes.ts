/**
 * `details.before` and `details.after` of metadata and settings changes (issue 7 item 1: "before
 * and after for metadata"), shared by every protocol edge: only the fields that changed, with
 * secrets replaced by REDACTED. The audit trail is read by auditors and shipped to a SIEM, so a
 * password, token, private key or secret access key must never reach it, even as "the old value".
 */
export const REDACTED = '[redacted]';

/** Field names whose values are secrets, whatever the object (`password`, `client_key`, `secret_access_key`, `token`, ...). */
const SECRET_FIELD = /(pass(word|phrase)|secret|token|private|client_key|credential|recovery_code|totp|seed|signing_key|key_material)/i;
/** A PEM private key inside any string (a certificate bundle pasted with its key, say). */
const PRIVATE_KEY_PEM = /-----BEGIN [A-Z ]*PRIVATE KEY-----/;
/** Nesting kept in before/after; deeper values are summarised. Bounds the size of one event. */
const DEPTH_MAX = 6;
const STRING_LENGTH_MAX = 4_096;
const ENTRIES_MAX = 256;

/** A JSON-safe copy of `value` with every secret replaced by REDACTED (bigints become strings). */
export function redactSecrets(value: unknown, depth = 0): unknown {
  if (typeof value === 'bigint') return value.toString();
  if (typeof value === 'string') return PRIVATE_KEY_PEM.test(value) ? REDACTED : value.length > STRING_LENGTH_MAX ? `${value.slice(0, STRING_LENGTH_MAX)}…` : value;
  if (value === null || typeof value !== 'object') return typeof value === 'function' || typeof value === 'symbol' ? undefined : value;
  if (value instanceof Uint8Array) return `<${value.byteLength} bytes>`;
  if (depth >= DEPTH_MAX) return Array.isArray(value) ? `<${value.length} items>` : '<object>';
  if (Array.isArray(value)) return value.slice(0, ENTRIES_MAX).map((item) => redactSecrets(item, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [name, field] of Object.entries(value as Record<string, unknown>).slice(0, ENTRIES_MAX)) {
    if (field === undefined) continue;
    out[name] = SECRET_FIELD.test(name) && field !== null && field !== '' ? REDACTED : redactSecrets(field, depth + 1);
  }
  return out;
}

const json = (value: unknown): string | undefined => JSON.stringify(value, (_name, field: unknown) => (typeof field === 'bigint' ? field.toString() : field));
const same = (a: unknown, b: unknown): boolean => json(a) === json(b);

/**
 * `{before, after}` of the fields that differ between two states of one resource, both redacted.
 * Objects are compared field by field at the top level (a nested value that changed is kept whole);
 * anything else (an array, a scalar, a resource that did not exist: null) is kept whole.
 */
export function changedFields(before: unknown, after: unknown): { before: unknown; after: unknown } {
  if (!isRecord(before) || !isRecord(after)) return { before: redactSecrets(before) ?? null, after: redactSecrets(after) ?? null };
  const changedBefore: Record<string, unknown> = {};
  const changedAfter: Record<string, unknown> = {};
  // Compared before redaction, so a changed secret shows as changed (REDACTED on both sides).
  for (const name of new Set([...Object.keys(before), ...Object.keys(after)])) {
    if (same(before[name], after[name])) continue;
    changedBefore[name] = before[name] ?? null;
    changedAfter[name] = after[name] ?? null;
  }
  return { before: redactSecrets(changedBefore), after: redactSecrets(changedAfter) };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}
