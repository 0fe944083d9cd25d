import { CliError, EXIT_USAGE } from './cli-io.js';

/**
 * Byte counts in and out. In: a plain number is bytes; K, M, G, T, P (with or without a B) are
 * powers of 1000 and KiB, MiB, GiB, TiB, PiB powers of 1024, as in `10G` or `500MiB`. Out: binary
 * units with one decimal.
 */

const DECIMAL = ['K', 'M', 'G', 'T', 'P'];
const BINARY_UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];

export function parseByteSize(text: string): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([KMGTP]?)(i?)(B?)\s*$/i.exec(text);
  if (match === null || (match[3] !== '' && match[2] === '')) {
    throw new CliError(`${JSON.stringify(text)} is not a size: use bytes or a unit, like 1048576, 10G or 500MiB`, EXIT_USAGE);
  }
  const [, number = '0', prefix = '', binary = ''] = match;
  const power = prefix === '' ? 0 : DECIMAL.indexOf(prefix.toUpperCase()) + 1;
  const bytes = Number(number) * (binary === '' ? 1000 : 1024) ** power;
  if (!Number.isSafeInteger(bytes)) throw new CliError(`${JSON.stringify(text)} is not a whole number of bytes, or too large`, EXIT_USAGE);
  return bytes;
}

export function formatBytes(bytes: number): string {
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < BINARY_UNITS.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(1)} ${BINARY_UNITS[unit] ?? ''}`;
}
