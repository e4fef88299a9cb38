/**
 * `insert_id` de-duplication for the SQLite queue: an append-only log on disk, an index of it in
 * memory.
 *
 * Why not a key-ordered table: the insert_ids Amplitude's SDKs send are random UUIDs, so each new
 * key of a B-tree keyed on them lands on its own leaf page, and every commit wrote about one 4 KiB
 * page per event to the WAL (and again at checkpoint): on the end-to-end benchmark that was about
 * a fifth of the server's CPU. Here the rows are appended in commit order (`seq`), so an ingest
 * request of 100 events writes a page or two, and lookups go to a hash table in memory.
 *
 * Several connections (the server's enqueue worker, a `replay` run beside it, other processes on
 * the same file) each keep their own index and stay exact: every write transaction that claims
 * keys first reads the rows others appended since it last looked (`seq > lastSeq`), under the
 * write lock, so two requests racing on one key still serialize and exactly one wins. Keys a
 * transaction claims are staged and reach the index only when it commits; a request or a
 * transaction that rolls back leaves the index as it was, so a retried request is not taken for
 * its own duplicate. `pruneDedup` deletes old rows and raises a watermark (`dedup_pruned`) that
 * every index honours, so a pruned key is forgotten by all of them at once.
 *
 * The index keeps a 64-bit hash of (project, insert_id) and the time first seen: 16 bytes per
 * slot, filled to between 25% and 70%, so 23–64 bytes per key in the window. A new insert_id is
 * taken for a seen one only if their 64-bit hashes collide: with 10 million keys in the window, a
 * chance of about 1 in 1.8 × 10^12 per event.
 *
 * The class is self-contained (no imports, no module-level names) because its source text is
 * also what the enqueue worker runs (see sqlite-enqueuer.ts).
 */

/** What `SqliteDedup` needs of a better-sqlite3 connection. */
export interface DedupConnection {
  prepare(sql: string): DedupStatement;
}

/** What `SqliteDedup` needs of a better-sqlite3 statement. */
export interface DedupStatement {
  run(...params: unknown[]): { changes: number; lastInsertRowid: number | bigint };
  get(...params: unknown[]): unknown;
  iterate(...params: unknown[]): IterableIterator<unknown>;
  raw(toggle?: boolean): DedupStatement;
  pluck(toggle?: boolean): DedupStatement;
}

/** One connection's view of the de-duplication log (see the module comment). */
export class SqliteDedup {
  /** Hash halves and time first seen, per slot of an open-addressing table; `hi = lo = 0` is empty. */
  private hi: Uint32Array;
  private lo: Uint32Array;
  private seen: Float64Array;
  private mask: number;
  /** Slots taken, expired ones included (they go at the next rebuild). */
  private used = 0;
  /** The last log row this index holds. */
  private lastSeq = 0;
  /** Keys first seen before this were pruned: forgotten. */
  private prunedBefore = Number.MIN_SAFE_INTEGER;
  /** Keys seen at or before this are outside the window of the latest claim: dropped at rebuilds. */
  private expiredBefore = Number.MIN_SAFE_INTEGER;
  /** Keys claimed by the open transaction, by `project \0 insert_id`, for look-ups until it commits. */
  private staged = new Map<string, number>();
  /** The same claims as `h1, h2, at` triples, in claim order: what commit writes to the index. */
  private claims: number[] = [];
  /** The open request's claims, `[key, what staged held before]`, to undo if it rolls back. */
  private requestUndo: [string, number | undefined][] = [];
  /** Where the open request's claims start in `claims`, and `stagedSeq` before it. */
  private requestStart = 0;
  private requestSeq = 0;
  /** The log row of the transaction's last claim that still stands. */
  private stagedSeq = 0;
  private inGroup = false;
  /** Set by `hash`: the two halves of the last key hashed (no allocation per key). */
  private h1 = 0;
  private h2 = 0;
  private readonly append: DedupStatement;
  private readonly since: DedupStatement;
  private readonly pruned: DedupStatement;

  constructor(db: DedupConnection) {
    this.append = db.prepare('INSERT INTO dedup_log (project, insert_id, first_seen) VALUES (?, ?, ?)');
    this.since = db.prepare('SELECT seq, project, insert_id, first_seen FROM dedup_log WHERE seq > ? ORDER BY seq').raw(true);
    this.pruned = db.prepare('SELECT pruned_before FROM dedup_pruned').pluck(true);
    this.hi = new Uint32Array(1024);
    this.lo = new Uint32Array(1024);
    this.seen = new Float64Array(1024);
    this.mask = 1023;
  }

  /** Keys the index holds (expired ones not yet dropped included). */
  get size(): number {
    return this.used;
  }

  /** Bytes the index's table takes. */
  get bytes(): number {
    return this.hi.byteLength + this.lo.byteLength + this.seen.byteLength;
  }

  /**
   * Reads the rows appended since the last call, and the prune watermark. Called outside any
   * transaction to load the index at start-up, and by `beginGroup` under the write lock.
   */
  catchUp(): void {
    const before = this.pruned.get();
    if (typeof before === 'number' && before > this.prunedBefore) this.prunedBefore = before;
    for (const row of this.since.iterate(this.lastSeq) as IterableIterator<[number, string, string, number]>) {
      this.hash(row[1], row[2]);
      this.put(row[3]);
      this.lastSeq = row[0];
    }
  }

  /** The write transaction has begun: catch up with other connections before claiming. */
  beginGroup(): void {
    if (this.inGroup) return;
    this.catchUp();
    this.inGroup = true;
  }

  /** One ingest request (a savepoint) starts. */
  beginRequest(): void {
    this.requestUndo.length = 0;
    this.requestStart = this.claims.length;
    this.requestSeq = this.stagedSeq;
  }

  /** The request's savepoint rolled back: its claims never happened. */
  rollbackRequest(): void {
    for (let i = this.requestUndo.length - 1; i >= 0; i--) {
      const [key, before] = this.requestUndo[i]!;
      if (before === undefined) this.staged.delete(key);
      else this.staged.set(key, before);
    }
    this.requestUndo.length = 0;
    this.claims.length = this.requestStart;
    // Its log rows are gone and their seq may be taken by another writer: not ours to skip.
    this.stagedSeq = this.requestSeq;
  }

  /**
   * Claims `insertId` for `project` at `now`: false when it was first seen after `cutoff` (a
   * duplicate: nothing written), else appends it to the log and returns true.
   */
  claim(project: string, insertId: string, now: number, cutoff: number): boolean {
    const key = project + '\u0000' + insertId;
    const staged = this.staged.get(key);
    this.hash(project, insertId);
    const seen = staged ?? this.lookup();
    if (seen !== undefined && seen >= this.prunedBefore && seen > cutoff) return false;
    this.requestUndo.push([key, staged]);
    this.staged.set(key, now);
    this.claims.push(this.h1, this.h2, now);
    this.stagedSeq = Number(this.append.run(project, insertId, now).lastInsertRowid);
    if (cutoff > this.expiredBefore) this.expiredBefore = cutoff;
    return true;
  }

  /** The transaction committed: its claims join the index. */
  commit(): void {
    if (!this.inGroup) return;
    const claims = this.claims;
    for (let i = 0; i < claims.length; i += 3) {
      this.h1 = claims[i]!;
      this.h2 = claims[i + 1]!;
      this.put(claims[i + 2]!);
    }
    // Nobody else could append while this transaction held the write lock.
    if (claims.length > 0) this.lastSeq = this.stagedSeq;
    this.endGroup();
  }

  /** The transaction rolled back (or never began): the index stays as it was. */
  rollback(): void {
    this.endGroup();
  }

  private endGroup(): void {
    this.inGroup = false;
    this.staged.clear();
    this.claims.length = 0;
    this.requestUndo.length = 0;
  }

  /**
   * A 64-bit hash of `project \0 insertId` into `h1`, `h2` (cyrb53's two lanes, both kept; public
   * domain, github.com/bryc/code). Never 0/0, which marks an empty slot.
   */
  private hash(project: string, insertId: string): void {
    let h1 = 0xdeadbeef;
    let h2 = 0x41c6ce57;
    for (let i = 0; i < project.length; i++) {
      const ch = project.charCodeAt(i);
      h1 = Math.imul(h1 ^ ch, 2654435761);
      h2 = Math.imul(h2 ^ ch, 1597334677);
    }
    h1 = Math.imul(h1, 2654435761); // the separator, a 0 character
    h2 = Math.imul(h2, 1597334677);
    for (let i = 0; i < insertId.length; i++) {
      const ch = insertId.charCodeAt(i);
      h1 = Math.imul(h1 ^ ch, 2654435761);
      h2 = Math.imul(h2 ^ ch, 1597334677);
    }
    h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507);
    h1 ^= Math.imul(h2 ^ (h2 >>> 13), 3266489909);
    h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507);
    h2 ^= Math.imul(h1 ^ (h1 >>> 13), 3266489909);
    this.h1 = h1 >>> 0;
    this.h2 = h2 >>> 0 || (this.h1 === 0 ? 1 : 0);
  }

  /** When the last hashed key was first seen, or undefined. */
  private lookup(): number | undefined {
    const { hi, lo, mask, h1, h2 } = this;
    for (let i = h2 & mask; ; i = (i + 1) & mask) {
      if (hi[i] === h1 && lo[i] === h2) return this.seen[i];
      if (hi[i] === 0 && lo[i] === 0) return undefined;
    }
  }

  /** Records the last hashed key as first seen `at` (the latest write wins, as the log's order says). */
  private put(at: number): void {
    const { hi, lo, mask, h1, h2 } = this;
    let i = h2 & mask;
    for (; ; i = (i + 1) & mask) {
      if (hi[i] === h1 && lo[i] === h2) {
        this.seen[i] = at;
        return;
      }
      if (hi[i] === 0 && lo[i] === 0) break;
    }
    hi[i] = h1;
    lo[i] = h2;
    this.seen[i] = at;
    if (++this.used > this.mask * 0.7) this.rebuild();
  }

  /** Drops forgotten and expired keys, then sizes the table for what is left (at most half full). */
  private rebuild(): void {
    const { hi, lo, seen } = this;
    const drop = Math.max(this.expiredBefore, this.prunedBefore - 1);
    let live = 0;
    for (let i = 0; i < seen.length; i++) if ((hi[i] !== 0 || lo[i] !== 0) && seen[i]! > drop) live++;
    let capacity = 1024;
    while (capacity * 0.5 < live) capacity *= 2;
    this.hi = new Uint32Array(capacity);
    this.lo = new Uint32Array(capacity);
    this.seen = new Float64Array(capacity);
    this.mask = capacity - 1;
    this.used = 0;
    for (let i = 0; i < seen.length; i++) {
      if ((hi[i] === 0 && lo[i] === 0) || seen[i]! <= drop) continue;
      this.h1 = hi[i]!;
      this.h2 = lo[i]!;
      let j = this.h2 & this.mask;
      while (this.hi[j] !== 0 || this.lo[j] !== 0) j = (j + 1) & this.mask;
      this.hi[j] = this.h1;
      this.lo[j] = this.h2;
      this.seen[j] = seen[i]!;
      this.used++;
    }
  }
}
