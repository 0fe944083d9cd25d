import { appendFile, mkdir, readdir, readFile, unlink } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * A sink's disk spool: append-only segment files `<number>.spool` (mode 0600, folder 0700) of
 * length-prefixed frames (4 bytes big-endian, then the framed message). Not encrypted: it holds
 * exactly what goes on the wire to the SIEM, under the 0700 data dir; the local log (encrypted
 * metadata) remains the trail of record. A segment is deleted only after each of its frames was
 * written to the socket.
 *
 * Contract: one writer chain and one reader, both in the owning sink. Frames come back in the
 * order they were appended.
 */
export const SEGMENT_BYTES_MAX = 1024 * 1024;
const FILE_MODE = 0o600;
const DIRECTORY_MODE = 0o700;

export class Spool {
  private segments: number[] = [];
  private writeSegment: number | undefined;
  private writeSegmentBytes = 0;
  private writes: Promise<void> = Promise.resolve();
  private count = 0;

  private constructor(private readonly directory: string) {}

  /** Opens (creating 0700) the folder and counts what an earlier run left behind. */
  static async open(directory: string): Promise<Spool> {
    await mkdir(directory, { recursive: true, mode: DIRECTORY_MODE });
    const spool = new Spool(directory);
    const names = (await readdir(directory)).filter((name) => /^\d+\.spool$/.test(name));
    spool.segments = names.map((name) => Number(name.slice(0, -'.spool'.length))).sort((a, b) => a - b);
    for (const segment of spool.segments) spool.count += (await spool.readSegment(segment)).length;
    return spool;
  }

  /** Frames spooled and not yet delivered. */
  size(): number {
    return this.count;
  }

  /** Nothing on disk and nothing being written. */
  isEmpty(): boolean {
    return this.count === 0;
  }

  /** Queues frames for appending, in order; resolves when they are on disk. */
  append(frames: readonly Buffer[]): Promise<void> {
    this.count += frames.length;
    const run = this.writes.then(async () => {
      for (const frame of frames) {
        if (this.writeSegment === undefined || this.writeSegmentBytes >= SEGMENT_BYTES_MAX) this.roll();
        const header = Buffer.alloc(4);
        header.writeUInt32BE(frame.length);
        await appendFile(this.path(this.writeSegment as number), Buffer.concat([header, frame]), { mode: FILE_MODE });
        this.writeSegmentBytes += 4 + frame.length;
      }
    });
    this.writes = run.catch(() => undefined);
    return run;
  }

  /**
   * The oldest segment's frames, after pending appends; the segment being written is closed first
   * so later appends go to a new one. Undefined when the spool is empty.
   */
  async oldest(): Promise<{ segment: number; frames: Buffer[] } | undefined> {
    await this.writes;
    const segment = this.segments[0];
    if (segment === undefined) return undefined;
    if (segment === this.writeSegment) this.writeSegment = undefined;
    return { segment, frames: await this.readSegment(segment) };
  }

  /** Deletes a delivered segment. */
  async remove(segment: number, frames: number): Promise<void> {
    await unlink(this.path(segment));
    this.segments = this.segments.filter((item) => item !== segment);
    this.count -= frames;
  }

  /** Deletes every segment (a replaying sink drops what the local log will send again). */
  async clear(): Promise<void> {
    await this.writes;
    for (const segment of this.segments) await unlink(this.path(segment)).catch(() => undefined);
    this.segments = [];
    this.writeSegment = undefined;
    this.writeSegmentBytes = 0;
    this.count = 0;
  }

  private roll(): void {
    const next = (this.segments.at(-1) ?? 0) + 1;
    this.segments.push(next);
    this.writeSegment = next;
    this.writeSegmentBytes = 0;
  }

  private path(segment: number): string {
    return join(this.directory, `${String(segment).padStart(12, '0')}.spool`);
  }

  private async readSegment(segment: number): Promise<Buffer[]> {
    let bytes: Buffer;
    try {
      bytes = await readFile(this.path(segment));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw error;
    }
    const frames: Buffer[] = [];
    let offset = 0;
    // A torn last frame (crash while appending) is ignored: the local log still has the record.
    while (offset + 4 <= bytes.length) {
      const length = bytes.readUInt32BE(offset);
      if (offset + 4 + length > bytes.length) break;
      frames.push(bytes.subarray(offset + 4, offset + 4 + length));
      offset += 4 + length;
    }
    return frames;
  }
}
