import { closeSync, existsSync, fsyncSync, ftruncateSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';

/**
 * The agent's durable event journal. Every door event is written here before it is published, and
 * stays "pending" until the broker has taken it (QoS 1 PUBACK); after an outage the pending events
 * are sent again in order. The server stores events by `event_id`, so a resend after a lost
 * acknowledgement is harmless: each event arrives exactly once in the database.
 *
 * Format: one JSON object per line, `{"e":{…event}}` or `{"a":"<event_id>"}` for an acknowledgement.
 * Lines are written with one `write` each, into the page cache at once (a crash of the agent loses
 * nothing) and flushed to disk within `syncDelayMs` (a power cut may lose that last moment).
 */
export interface JournalEvent {
  event_id: string;
  [key: string]: unknown;
}

export interface JournalOptions {
  /** how long written lines may wait before fsync; 0 = fsync every write */
  syncDelayMs?: number;
  /** rewrite the file once it is this large and mostly acknowledged */
  compactBytes?: number;
}

export class Journal {
  private fd: number;
  private size = 0;
  private readonly pendingEvents = new Map<string, JournalEvent>();
  private syncTimer: NodeJS.Timeout | null = null;
  private readonly syncDelayMs: number;
  private readonly compactBytes: number;
  /** lines that could not be read when the journal was opened (a torn last line after a power cut) */
  readonly skippedLines: number;

  constructor(readonly path: string, opts: JournalOptions = {}) {
    this.syncDelayMs = opts.syncDelayMs ?? 20;
    this.compactBytes = opts.compactBytes ?? 8 * 1024 * 1024;
    let skipped = 0;
    if (existsSync(path)) {
      const text = readFileSync(path, 'utf8');
      const lines = text.split('\n');
      // Only the part up to the last complete line is kept: a write cut short by a power loss
      // leaves a partial line that must not glue itself to the next record.
      // The last element is '' after a final newline, or the torn line: either way not a record.
      const complete = lines.slice(0, -1);
      if (lines.at(-1) !== '') skipped++;
      for (const line of complete) {
        if (!line) continue;
        try {
          const record = JSON.parse(line) as { e?: JournalEvent; a?: string };
          if (record.e && typeof record.e.event_id === 'string') this.pendingEvents.set(record.e.event_id, record.e);
          else if (typeof record.a === 'string') this.pendingEvents.delete(record.a);
          else skipped++;
        } catch {
          skipped++;
        }
      }
      this.size = Buffer.byteLength(complete.join('\n') + (complete.length ? '\n' : ''));
    }
    this.skippedLines = skipped;
    this.fd = openSync(path, 'a+');
    // Drop a torn tail so the next append starts on a line of its own.
    ftruncateSync(this.fd, this.size);
  }

  /** Records an event; from now on it survives a restart until acknowledged. */
  append(event: JournalEvent): void {
    if (this.pendingEvents.has(event.event_id)) return;
    this.write(JSON.stringify({ e: event }) + '\n');
    this.pendingEvents.set(event.event_id, event);
  }

  /** The broker has the event: it is no longer sent again. */
  ack(eventId: string): void {
    if (!this.pendingEvents.delete(eventId)) return;
    this.write(JSON.stringify({ a: eventId }) + '\n');
    if (this.size > this.compactBytes && this.pendingEvents.size < 1000) this.compact();
  }

  /** Events not yet acknowledged, oldest first. */
  pending(): JournalEvent[] {
    return [...this.pendingEvents.values()];
  }

  get pendingCount(): number {
    return this.pendingEvents.size;
  }

  /** Forces what was written onto the disk now. */
  sync(): void {
    if (this.syncTimer) {
      clearTimeout(this.syncTimer);
      this.syncTimer = null;
    }
    fsyncSync(this.fd);
  }

  close(): void {
    this.sync();
    closeSync(this.fd);
  }

  private write(line: string): void {
    const bytes = Buffer.from(line, 'utf8');
    writeSync(this.fd, bytes);
    this.size += bytes.length;
    if (this.syncDelayMs === 0) fsyncSync(this.fd);
    else this.syncTimer ??= setTimeout(() => this.sync(), this.syncDelayMs);
  }

  /** Rewrites the file with only the pending events, atomically (write, fsync, rename). */
  private compact(): void {
    const tmp = `${this.path}.compact`;
    const fd = openSync(tmp, 'w');
    let size = 0;
    for (const e of this.pendingEvents.values()) {
      const bytes = Buffer.from(JSON.stringify({ e }) + '\n', 'utf8');
      writeSync(fd, bytes);
      size += bytes.length;
    }
    fsyncSync(fd);
    closeSync(fd);
    this.sync();
    closeSync(this.fd);
    renameSync(tmp, this.path);
    this.fd = openSync(this.path, 'a+');
    this.size = size;
  }
}
