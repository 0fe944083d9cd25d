import type { Writable } from 'node:stream';

/**
 * What a command prints on stdout: with `--json` the API's answer (or a documented object) as
 * JSON, for scripts; otherwise tables and `key  value` lines, for people. Messages about what
 * happened, prompts and progress go to stderr and never mix with either.
 */

export type Cell = string | number | boolean | null | undefined | readonly unknown[] | object;

export interface Column<T> {
  readonly header: string;
  readonly value: (row: T) => Cell;
}

function cellText(value: Cell): string {
  if (value === null || value === undefined) return '-';
  if (Array.isArray(value)) return value.length === 0 ? '-' : value.map((item) => cellText(item as Cell)).join(',');
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

/** Columns padded to their widest cell, separated by two spaces; the last column is not padded. */
export function renderTable<T>(rows: readonly T[], columns: readonly Column<T>[]): string {
  const cells = [columns.map((column) => column.header), ...rows.map((row) => columns.map((column) => cellText(column.value(row)).replace(/\n/g, ' ')))];
  const widths = columns.map((_column, index) => Math.max(...cells.map((line) => (line[index] ?? '').length)));
  return cells
    .map((line) => line.map((cell, index) => (index === line.length - 1 ? cell : cell.padEnd(widths[index] ?? 0))).join('  ').trimEnd())
    .join('\n');
}

export class Output {
  constructor(
    private readonly stdout: Writable,
    readonly json: boolean,
  ) {}

  /** `value` as JSON with --json; otherwise the human text `human` makes. */
  result(value: unknown, human: () => string): void {
    this.stdout.write(this.json ? `${JSON.stringify(value, null, 2)}\n` : ensureNewline(human()));
  }

  /** Rows as a table, or `jsonValue` (default: the rows) as JSON. */
  table<T>(rows: readonly T[], columns: readonly Column<T>[], jsonValue: unknown = rows): void {
    this.result(jsonValue, () => (rows.length === 0 ? '(none)' : renderTable(rows, columns)));
  }

  /** An object as aligned `key  value` lines (fields in the given order, or all of them). */
  record(value: object, fields?: readonly string[]): void {
    this.result(value, () => renderRecord(value, fields));
  }

  /** A line for people only; with --json nothing (the command prints its JSON with result()). */
  line(text: string): void {
    if (!this.json) this.stdout.write(ensureNewline(text));
  }

  /** Raw bytes, for `files cat`. */
  get raw(): Writable {
    return this.stdout;
  }
}

export function renderRecord(value: object, fields?: readonly string[]): string {
  const entries = Object.entries(value as Record<string, Cell>).filter(([key]) => fields === undefined || fields.includes(key));
  if (fields !== undefined) entries.sort(([a], [b]) => fields.indexOf(a) - fields.indexOf(b));
  const width = Math.max(0, ...entries.map(([key]) => key.length));
  return entries.map(([key, cell]) => `${key.padEnd(width)}  ${cellText(cell)}`).join('\n');
}

function ensureNewline(text: string): string {
  return text.endsWith('\n') ? text : `${text}\n`;
}
