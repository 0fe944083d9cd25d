import { userLabel, type AuditRecordEvent } from '../events.js';

/**
 * RFC 5424 messages for the audit trail. PRI is local0.info (16 * 8 + 6 = 134). STRUCTURED-DATA
 * carries the record's sequence number, `[enclave@32473 seq="N"]` (32473 is the example
 * enterprise number of RFC 5612, until Enclave registers its own), so a SIEM can drop the
 * duplicates that at-least-once delivery sends after a reconnect. MSG is CSV in Qumulo's column
 * order, or JSON.
 */
export type SyslogFormat = 'csv' | 'json';

const PRI_LOCAL0_INFO = 134;
export const SD_ID = 'enclave@32473';
/** RFC 5424 §6: HOSTNAME at most 255 printable US-ASCII characters, MSGID at most 32. */
const HOSTNAME_LENGTH_MAX = 255;
const MSGID_LENGTH_MAX = 32;

function printableAscii(text: string, lengthMax: number): string {
  const cleaned = text.replace(/[^\x21-\x7e]/g, '').slice(0, lengthMax);
  return cleaned === '' ? '-' : cleaned;
}

/** A CSV field as Qumulo writes it: quoted, quotes doubled, CR and LF removed. */
function quoted(text: string | undefined): string {
  return `"${(text ?? '').replace(/[\r\n]/g, '').replaceAll('"', '""')}"`;
}

/** An unquoted CSV field (address, protocol, operation, status, file id): no separators allowed. */
function bare(text: string | undefined): string {
  const value = (text ?? '').replace(/[\r\n]/g, '');
  return /[",]/.test(value) ? quoted(value) : value;
}

/** Qumulo's CSV columns: user IP, "user ID", protocol, operation, status, file ID, "path", "target path". */
export function csvLine(event: AuditRecordEvent): string {
  return [bare(event.clientAddress), quoted(userLabel(event.user)), bare(event.protocol), bare(event.operation), bare(event.status), bare(event.fileId), quoted(event.path), quoted(event.targetPath)].join(',');
}

/** Qumulo's JSON layout (user_id, user_ip, protocol, operation, status, details) plus seq and time. */
export function jsonLine(event: AuditRecordEvent): string {
  const user = event.user;
  return JSON.stringify({
    seq: event.seq,
    time: new Date(event.time).toISOString(),
    user_id: { name: user.name ?? null, sid: user.sid ?? null, uid: user.uid ?? null, auth_id: user.id ?? null },
    user_ip: event.clientAddress,
    protocol: event.protocol,
    operation: event.operation,
    status: event.status,
    details: { file_id: event.fileId ?? null, path: event.path ?? null, target: event.targetPath ?? null, ...event.details },
  });
}

export function syslogMessage(event: AuditRecordEvent, options: { hostname: string; format: SyslogFormat }): string {
  const timestamp = new Date(event.time).toISOString();
  const msgid = printableAscii(event.operation, MSGID_LENGTH_MAX);
  const body = options.format === 'csv' ? csvLine(event) : jsonLine(event);
  return `<${PRI_LOCAL0_INFO}>1 ${timestamp} ${printableAscii(options.hostname, HOSTNAME_LENGTH_MAX)} enclave - ${msgid} [${SD_ID} seq="${event.seq}"] ${body}`;
}

/** RFC 6587 §3.4.1 octet counting: `MSG-LEN SP SYSLOG-MSG`, the length in bytes. */
export function octetCounted(message: string): Buffer {
  const bytes = Buffer.from(message, 'utf8');
  return Buffer.concat([Buffer.from(`${bytes.length} `, 'ascii'), bytes]);
}

/** The largest UDP payload over IPv4 (65,535 - 8 UDP - 20 IP header bytes). */
export const UDP_PAYLOAD_BYTES_MAX = 65_507;

/** One datagram, cut at a UTF-8 character boundary if the message is too long (RFC 5426 §3.2). */
export function datagram(message: string, bytesMax = UDP_PAYLOAD_BYTES_MAX): Buffer {
  const bytes = Buffer.from(message, 'utf8');
  if (bytes.length <= bytesMax) return bytes;
  let end = bytesMax;
  // Back up over continuation bytes (10xxxxxx) so no character is split.
  while (end > 0 && ((bytes[end] ?? 0) & 0xc0) === 0x80) end--;
  return bytes.subarray(0, end);
}

const SEQ_MARKER = Buffer.from(`[${SD_ID} seq="`, 'latin1');

/** The sequence number in a framed or unframed message this module made (undefined if none). */
export function frameSeq(frame: Buffer): number | undefined {
  // The header before STRUCTURED-DATA is at most ~330 bytes (HOSTNAME 255, MSGID 32, timestamp).
  const head = frame.subarray(0, 512);
  const at = head.indexOf(SEQ_MARKER);
  if (at < 0) return undefined;
  let seq = 0;
  for (let index = at + SEQ_MARKER.length; index < head.length; index++) {
    const byte = head[index] as number;
    if (byte === 0x22) return seq;
    if (byte < 0x30 || byte > 0x39) return undefined;
    seq = seq * 10 + (byte - 0x30);
  }
  return undefined;
}
