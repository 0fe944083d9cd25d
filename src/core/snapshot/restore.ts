import { COPY_BYTES_MAX } from '../data/copy-range.js';
import type { OpContext } from '../context.js';
import { FsError, isFsError } from '../errors.js';
import type { Attributes, FileSystem, NodeHandle } from '../file-system.js';
import { isSnapshotDirectory } from './snapshot-directory.js';

/**
 * Restoring a file, a symlink or a whole directory tree from a snapshot to the live tree (issue 4
 * item 2). Built on the public FileSystem API only, so every rule applies exactly as for any other
 * caller:
 *
 * - No byte is copied: file data moves with `copyRange`, which gives the restored file slices
 *   pointing at the snapshot's chunks. The restored file is an ordinary live file: writing it
 *   writes new chunks and never changes the snapshot.
 * - Rights: reading the snapshot needs what reading it always needs (EXECUTE to look up,
 *   READ_DATA to list and to copy data, READ_NAMED_ATTRS for extended attributes, READ_ACL for
 *   the ACL); writing the destination needs what creating there needs. A refusal is
 *   PermissionDenied naming the missing right.
 * - Kept: data, size (holes stay holes), extended attributes, ACL and mode (special bits too),
 *   atime, mtime and birth time, and the owner and group when the caller may give nodes away (a
 *   superuser, or a caller restoring their own nodes into a group they belong to); otherwise the
 *   caller owns the restored nodes, as with `cp -a` run by an ordinary user, and the summary
 *   counts them (`ownersNotKept`). ctime is the time of the restore (nothing can set it). Hard
 *   links inside a restored tree stay links (up to `linksTrackedMax` of them; beyond that each
 *   further name becomes its own file, still sharing chunks). Owner and group SIDs are not kept:
 *   the API sets owners by uid and gid.
 * - Conflicts: an existing destination fails with Exists unless `overwrite`. With `overwrite` a
 *   file or symlink is replaced atomically (restored under a hidden staging name, then renamed
 *   over the old one: readers see the old or the new, never a mix), and a directory is merged:
 *   each entry of the snapshot is restored into it, recursively, and entries the snapshot does
 *   not have are left alone (like `cp -a`, never deleting). A directory over a non-directory fails
 *   with NotADirectory, a non-directory over a directory with IsADirectory.
 * - Bounded: a directory is read page by page (`pageEntriesMax` entries) and each page is
 *   restored before the next is read, so memory is one page per level of depth, never a whole
 *   directory. A directory's own attributes are set after its entries (restoring them changes its
 *   mtime), so while it is being restored it is 0700 and the caller's.
 * - Failure: if the destination did not exist, what was created is removed and the error is
 *   thrown; a failed merge leaves what it restored (running it again with `overwrite` finishes
 *   the job: it is idempotent).
 */

export const RESTORE_PAGE_ENTRIES_MAX = 256;
export const RESTORE_LINKS_TRACKED_MAX = 10_000;
const STAGING_PREFIX = '.restore-';
const STAGING_RANDOM_BYTES = 8;
const SPECIAL_MODE_BITS = 0o7000;

export interface RestoreRequest {
  /** A node in a snapshot (its handle carries the snapshot id). */
  readonly source: NodeHandle;
  /** The live directory that receives it, and the name it takes there. */
  readonly targetDir: NodeHandle;
  readonly targetName: string;
  /** Replace an existing file or symlink; merge into an existing directory. */
  readonly overwrite?: boolean;
}

export interface RestoreSummary {
  /** The restored node (for a merge, the existing directory). */
  readonly handle: NodeHandle;
  readonly files: number;
  readonly directories: number;
  readonly symlinks: number;
  /** Names restored as further links to a file restored earlier in the same tree. */
  readonly hardLinks: number;
  /** Logical bytes of the files restored (shared with the snapshot, not copied). */
  readonly bytes: number;
  /** Existing files and symlinks replaced (with `overwrite`). */
  readonly replaced: number;
  /** Nodes left owned by the caller because the caller may not give them to their owner. */
  readonly ownersNotKept: number;
}

export interface RestoreOptions {
  /** Random bytes for staging names (the engine's source, so tests can fix it). */
  readonly random: (size: number) => Uint8Array;
  readonly pageEntriesMax?: number;
  readonly linksTrackedMax?: number;
}

interface SourceNode {
  readonly handle: NodeHandle;
  readonly attributes: Attributes;
}

export async function restoreFromSnapshot(fs: FileSystem, ctx: OpContext, request: RestoreRequest, options: RestoreOptions): Promise<RestoreSummary> {
  const { source, targetDir } = request;
  if (source.snapshot === undefined || isSnapshotDirectory(source)) throw new FsError('InvalidArgument', 'the source of a restore is a file or directory inside a snapshot');
  if (targetDir.snapshot !== undefined) throw new FsError('ReadOnly', 'snapshot contents are read-only: restore to the live tree');
  const restorer = new Restorer(fs, ctx, request.overwrite === true, options);
  const attributes = await fs.getattr(ctx, source);
  const handle = await restorer.restoreEntry({ handle: source, attributes }, targetDir, request.targetName);
  return { handle, ...restorer.counts };
}

class Restorer {
  readonly counts = { files: 0, directories: 0, symlinks: 0, hardLinks: 0, bytes: 0, replaced: 0, ownersNotKept: 0 };
  private readonly pageEntriesMax: number;
  private readonly linksTrackedMax: number;
  /** Source node id -> its restored handle, for files with more than one link. */
  private readonly links = new Map<number, NodeHandle>();

  constructor(
    private readonly fs: FileSystem,
    private readonly ctx: OpContext,
    private readonly overwrite: boolean,
    private readonly options: RestoreOptions,
  ) {
    this.pageEntriesMax = options.pageEntriesMax ?? RESTORE_PAGE_ENTRIES_MAX;
    this.linksTrackedMax = options.linksTrackedMax ?? RESTORE_LINKS_TRACKED_MAX;
  }

  async restoreEntry(source: SourceNode, dir: NodeHandle, name: string): Promise<NodeHandle> {
    const existing = await this.existing(dir, name);
    if (existing !== undefined && !this.overwrite) throw new FsError('Exists', `"${name}" exists: restore it elsewhere or overwrite it`);
    if (source.attributes.type === 'directory') {
      if (existing !== undefined && existing.type !== 'directory') throw new FsError('NotADirectory', `"${name}" exists and is not a directory`);
      const target = existing?.handle ?? (await this.fs.mkdir(this.ctx, dir, name, { mode: 0o700 })).handle;
      try {
        await this.restoreChildren(source.handle, target);
        await this.applyMetadata(source, target);
      } catch (error) {
        // Only what this restore created goes again; a merged directory keeps what it received.
        if (existing === undefined) await this.removeQuietly(dir, name, error);
        throw error;
      }
      this.counts.directories++;
      return target;
    }
    if (existing?.type === 'directory') throw new FsError('IsADirectory', `"${name}" exists and is a directory`);
    // A replacement is made under a staging name and renamed over the old entry at the end.
    const placeName = existing === undefined ? name : `${STAGING_PREFIX}${Buffer.from(this.options.random(STAGING_RANDOM_BYTES)).toString('hex')}`;
    const placed = await this.place(source, dir, placeName);
    if (existing !== undefined) {
      try {
        await this.fs.rename(this.ctx, { sourceDir: dir, sourceName: placeName, targetDir: dir, targetName: name });
      } catch (error) {
        await this.removeQuietly(dir, placeName, error);
        throw error;
      }
      this.counts.replaced++;
    }
    return placed;
  }

  /** Creates a non-directory at `name` with the source's content and attributes. */
  private async place(source: SourceNode, dir: NodeHandle, name: string): Promise<NodeHandle> {
    const { attributes } = source;
    const linkedTo = attributes.type === 'file' && attributes.nlink > 1 ? this.links.get(attributes.id) : undefined;
    if (linkedTo !== undefined) {
      await this.fs.link(this.ctx, linkedTo, dir, name);
      this.counts.hardLinks++;
      return linkedTo;
    }
    const target =
      attributes.type === 'symlink'
        ? (await this.fs.symlink(this.ctx, dir, name, await this.fs.readlink(this.ctx, source.handle))).handle
        : (await this.fs.create(this.ctx, dir, name, { mode: 0o600, exclusive: true })).handle;
    try {
      if (attributes.type === 'file') await this.copyData(source, target);
      await this.applyMetadata(source, target);
    } catch (error) {
      await this.removeQuietly(dir, name, error);
      throw error;
    }
    if (attributes.type === 'symlink') this.counts.symlinks++;
    else {
      this.counts.files++;
      this.counts.bytes += attributes.size;
      if (attributes.nlink > 1 && this.links.size < this.linksTrackedMax) this.links.set(attributes.id, target);
    }
    return target;
  }

  /** Shares the source's chunks with the target, at most COPY_BYTES_MAX per call. */
  private async copyData(source: SourceNode, target: NodeHandle): Promise<void> {
    const size = source.attributes.size;
    for (let offset = 0; offset < size; offset += COPY_BYTES_MAX) {
      const length = Math.min(COPY_BYTES_MAX, size - offset);
      await this.fs.copyRange(this.ctx, { source: source.handle, sourceOffset: offset, target, targetOffset: offset, length });
    }
  }

  /** One page at a time: each page is restored before the next one is read. */
  private async restoreChildren(sourceDir: NodeHandle, targetDir: NodeHandle): Promise<void> {
    let cursor: string | undefined;
    do {
      const page = await this.fs.readdir(this.ctx, sourceDir, { limit: this.pageEntriesMax, withAttributes: true, ...(cursor === undefined ? {} : { cursor }) });
      for (const entry of page.entries) {
        const attributes = entry.attributes ?? (await this.fs.getattr(this.ctx, entry.handle));
        await this.restoreEntry({ handle: entry.handle, attributes }, targetDir, entry.name);
      }
      cursor = page.cursor;
    } while (cursor !== undefined);
  }

  /**
   * Extended attributes, then times (the later changes touch only ctime), then the ACL (which
   * also sets the permission bits), the owner when the caller may give it, and special mode bits
   * last (a non-superuser's chown clears setuid and setgid).
   */
  private async applyMetadata(source: SourceNode, target: NodeHandle): Promise<void> {
    const { attributes } = source;
    const xattrs = await this.fs.getXattrs(this.ctx, source.handle);
    if (Object.keys(xattrs).length > 0) await this.fs.setXattrs(this.ctx, target, xattrs);
    await this.fs.setattr(this.ctx, target, { atime: attributes.atimeNs, mtime: attributes.mtimeNs, birthTime: attributes.birthTimeNs });
    if (attributes.type !== 'symlink') await this.fs.setAcl(this.ctx, target, await this.fs.getAcl(this.ctx, source.handle));
    await this.applyOwner(attributes, target);
    if (attributes.type !== 'symlink' && (attributes.mode & SPECIAL_MODE_BITS) !== 0) await this.fs.setattr(this.ctx, target, { mode: attributes.mode });
  }

  private async applyOwner(attributes: Attributes, target: NodeHandle): Promise<void> {
    const { principal } = this.ctx;
    if (principal.superuser === true) {
      await this.fs.setattr(this.ctx, target, { uid: attributes.uid, gid: attributes.gid });
      return;
    }
    const current = await this.fs.getattr(this.ctx, target);
    if (current.uid === attributes.uid && current.gid === attributes.gid) return;
    if (attributes.uid === principal.uid && principal.gids.includes(attributes.gid)) {
      await this.fs.setattr(this.ctx, target, { gid: attributes.gid });
      return;
    }
    this.counts.ownersNotKept++;
  }

  private async existing(dir: NodeHandle, name: string): Promise<{ handle: NodeHandle; type: Attributes['type'] } | undefined> {
    try {
      const found = await this.fs.lookup(this.ctx, dir, name);
      return { handle: found.handle, type: found.attributes.type };
    } catch (error) {
      if (isFsError(error, 'NotFound')) return undefined;
      throw error;
    }
  }

  /**
   * Undoes a partial restore: removes `name` (recursively, a page at a time). A failure here is
   * logged with the original error, which the caller then throws; it is never swallowed unseen.
   */
  private async removeQuietly(dir: NodeHandle, name: string, cause: unknown): Promise<void> {
    try {
      await this.removeTree(dir, name);
    } catch (error) {
      this.ctx.logger.error({ err: error, cause, name }, 'restore failed and what it had created could not be removed');
    }
  }

  private async removeTree(dir: NodeHandle, name: string): Promise<void> {
    const found = await this.existing(dir, name);
    if (found === undefined) return;
    if (found.type !== 'directory') {
      await this.fs.remove(this.ctx, dir, name);
      return;
    }
    // Always the first page: what was listed is gone before the next read.
    for (;;) {
      const page = await this.fs.readdir(this.ctx, found.handle, { limit: this.pageEntriesMax });
      if (page.entries.length === 0) break;
      for (const entry of page.entries) await this.removeTree(found.handle, entry.name);
    }
    await this.fs.rmdir(this.ctx, dir, name);
  }
}
