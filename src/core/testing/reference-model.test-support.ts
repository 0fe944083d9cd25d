import type { FsErrorCode } from '../errors.js';

/**
 * A deliberately simple in-memory file system with POSIX semantics, the reference that the model
 * test compares core against. Paths are arrays of names; nodes are shared for hard links.
 */
export type ModelNode = { type: 'file'; data: Uint8Array } | { type: 'directory'; children: Map<string, ModelNode> };

export class ModelError extends Error {
  constructor(readonly code: FsErrorCode) {
    super(code);
  }
}

export class ReferenceModel {
  readonly root: ModelNode = { type: 'directory', children: new Map() };

  resolve(path: readonly string[]): ModelNode {
    let node = this.root;
    for (const name of path) {
      if (node.type !== 'directory') throw new ModelError('NotADirectory');
      const next = node.children.get(name);
      if (next === undefined) throw new ModelError('NotFound');
      node = next;
    }
    return node;
  }

  private dir(path: readonly string[]): Map<string, ModelNode> {
    const node = this.resolve(path);
    if (node.type !== 'directory') throw new ModelError('NotADirectory');
    return node.children;
  }

  create(dir: readonly string[], name: string): void {
    const children = this.dir(dir);
    if (children.has(name)) throw new ModelError('Exists');
    children.set(name, { type: 'file', data: new Uint8Array(0) });
  }

  mkdir(dir: readonly string[], name: string): void {
    const children = this.dir(dir);
    if (children.has(name)) throw new ModelError('Exists');
    children.set(name, { type: 'directory', children: new Map() });
  }

  private file(dir: readonly string[], name: string): { type: 'file'; data: Uint8Array } {
    const node = this.dir(dir).get(name);
    if (node === undefined) throw new ModelError('NotFound');
    if (node.type !== 'file') throw new ModelError('IsADirectory');
    return node;
  }

  write(dir: readonly string[], name: string, offset: number, data: Uint8Array): void {
    const node = this.file(dir, name);
    const size = Math.max(node.data.length, offset + data.length);
    const next = new Uint8Array(size);
    next.set(node.data);
    next.set(data, offset);
    node.data = next;
  }

  truncate(dir: readonly string[], name: string, size: number): void {
    const node = this.file(dir, name);
    const next = new Uint8Array(size);
    next.set(node.data.subarray(0, size));
    node.data = next;
  }

  read(dir: readonly string[], name: string): Uint8Array {
    return this.file(dir, name).data;
  }

  remove(dir: readonly string[], name: string): void {
    const children = this.dir(dir);
    const node = children.get(name);
    if (node === undefined) throw new ModelError('NotFound');
    if (node.type === 'directory') throw new ModelError('IsADirectory');
    children.delete(name);
  }

  rmdir(dir: readonly string[], name: string): void {
    const children = this.dir(dir);
    const node = children.get(name);
    if (node === undefined) throw new ModelError('NotFound');
    if (node.type !== 'directory') throw new ModelError('NotADirectory');
    if (node.children.size > 0) throw new ModelError('NotEmpty');
    children.delete(name);
  }

  link(dir: readonly string[], name: string, targetDir: readonly string[], targetName: string): void {
    const node = this.file(dir, name);
    const children = this.dir(targetDir);
    if (children.has(targetName)) throw new ModelError('Exists');
    children.set(targetName, node);
  }

  rename(sourceDir: readonly string[], sourceName: string, targetDir: readonly string[], targetName: string): void {
    const sources = this.dir(sourceDir);
    const node = sources.get(sourceName);
    if (node === undefined) throw new ModelError('NotFound');
    const targets = this.dir(targetDir);
    if (sourceDir.join('/') === targetDir.join('/') && sourceName === targetName) return;
    if (node.type === 'directory' && this.isInside(node, targetDir)) throw new ModelError('InvalidArgument');
    const existing = targets.get(targetName);
    if (existing !== undefined) {
      if (existing === node) return;
      if (node.type === 'directory' && existing.type !== 'directory') throw new ModelError('NotADirectory');
      if (node.type === 'file' && existing.type === 'directory') throw new ModelError('IsADirectory');
      if (existing.type === 'directory' && existing.children.size > 0) throw new ModelError('NotEmpty');
    }
    sources.delete(sourceName);
    targets.set(targetName, node);
  }

  /** Whether the directory at `path` is `node` or below it. */
  private isInside(node: ModelNode, path: readonly string[]): boolean {
    let current = this.root;
    if (current === node) return true;
    for (const name of path) {
      if (current.type !== 'directory') return false;
      current = current.children.get(name) as ModelNode;
      if (current === node) return true;
    }
    return false;
  }

  /** Every directory path, depth first. */
  directories(): string[][] {
    const result: string[][] = [];
    const walk = (node: ModelNode, path: string[]): void => {
      if (node.type !== 'directory') return;
      result.push(path);
      for (const [name, child] of [...node.children].sort()) walk(child, [...path, name]);
    };
    walk(this.root, []);
    return result;
  }

  /** What core's aggregate of a directory should say (hard links counted once per link). */
  aggregate(node: ModelNode): { bytes: number; files: number; directories: number; symlinks: number } {
    const total = { bytes: 0, files: 0, directories: 0, symlinks: 0 };
    if (node.type !== 'directory') return total;
    for (const child of node.children.values()) {
      if (child.type === 'file') {
        total.bytes += child.data.length;
        total.files += 1;
      } else {
        const below = this.aggregate(child);
        total.bytes += below.bytes;
        total.files += below.files;
        total.directories += below.directories + 1;
      }
    }
    return total;
  }
}

/** A deep copy of a model tree, keeping hard links shared within the copy (a snapshot's view). */
export function freezeTree(node: ModelNode, copies = new Map<ModelNode, ModelNode>()): ModelNode {
  const known = copies.get(node);
  if (known !== undefined) return known;
  if (node.type === 'file') {
    const copy: ModelNode = { type: 'file', data: node.data.slice() };
    copies.set(node, copy);
    return copy;
  }
  const copy: ModelNode = { type: 'directory', children: new Map() };
  copies.set(node, copy);
  for (const [name, child] of node.children) copy.children.set(name, freezeTree(child, copies));
  return copy;
}
