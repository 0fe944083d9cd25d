/** RFC 1813 constants used across the NFSv3 procedures. */
export const NFS_PROGRAM = 100003;
export const NFS_V3 = 3;

/** RFC 1813 §2.6 nfsstat3. */
export const Nfs3Status = {
  OK: 0,
  PERM: 1,
  NOENT: 2,
  IO: 5,
  NXIO: 6,
  ACCES: 13,
  EXIST: 17,
  XDEV: 18,
  NODEV: 19,
  NOTDIR: 20,
  ISDIR: 21,
  INVAL: 22,
  FBIG: 27,
  NOSPC: 28,
  ROFS: 30,
  MLINK: 31,
  NAMETOOLONG: 63,
  NOTEMPTY: 66,
  DQUOT: 69,
  STALE: 70,
  REMOTE: 71,
  BADHANDLE: 10001,
  NOT_SYNC: 10002,
  BAD_COOKIE: 10003,
  NOTSUPP: 10004,
  TOOSMALL: 10005,
  SERVERFAULT: 10006,
  BADTYPE: 10007,
  JUKEBOX: 10008,
} as const;
export type Nfs3StatusCode = (typeof Nfs3Status)[keyof typeof Nfs3Status];

/** RFC 1813 §2.6 ftype3. */
export const FileType3 = { REG: 1, DIR: 2, BLK: 3, CHR: 4, LNK: 5, SOCK: 6, FIFO: 7 } as const;

/** RFC 1813 §3.3.4 ACCESS bits. */
export const Access3 = { READ: 0x1, LOOKUP: 0x2, MODIFY: 0x4, EXTEND: 0x8, DELETE: 0x10, EXECUTE: 0x20 } as const;

/** RFC 1813 §3.3.7 stable_how. */
export const StableHow = { UNSTABLE: 0, DATA_SYNC: 1, FILE_SYNC: 2 } as const;

/** RFC 1813 §3.3.8 createmode3. */
export const CreateMode = { UNCHECKED: 0, GUARDED: 1, EXCLUSIVE: 2 } as const;

/** RFC 1813 §3.3.19 FSINFO properties. */
export const FsInfoProperty = { LINK: 0x1, SYMLINK: 0x2, HOMOGENEOUS: 0x8, CANSETTIME: 0x10 } as const;

/** RFC 1813 §2.5: nfs_fh3 is at most 64 bytes; filename3 and nfspath3 are strings. */
export const FH_BYTES_MAX = 64;
/** Longer names are refused by core with NameTooLong; reading a bit more lets us say so. */
export const NAME_WIRE_BYTES_MAX = 1024;
export const PATH_WIRE_BYTES_MAX = 4096;
export const VERIFIER_BYTES = 8;

/** Transfer sizes we advertise in FSINFO; the RPC record limit is set from them. */
export const READ_BYTES_PREFERRED = 1024 * 1024;
export const WRITE_BYTES_PREFERRED = 1024 * 1024;
export const DIRECTORY_BYTES_PREFERRED = 64 * 1024;
/** Caps on READDIR count / READDIRPLUS maxcount so one reply stays bounded. */
export const DIRECTORY_REPLY_BYTES_MAX = 256 * 1024;
