/** Where a long backup operation stands; totals are null while still unknown. */
export interface BackupProgress {
  stage: 'database' | 'files' | 'verify' | 'restore';
  tablesDone: number;
  tablesTotal: number | null;
  rows: number;
  filesDone: number;
  filesTotal: number | null;
  bytesDone: number;
  bytesTotal: number | null;
}

export type ProgressListener = (progress: BackupProgress) => void;

const STAGE_NAMES: Record<BackupProgress['stage'], string> = {
  database: 'backing up the database',
  files: 'backing up files',
  verify: 'verifying',
  restore: 'restoring',
};

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let value = n / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(1)} ${units[unit]}`;
}

export function describeProgress(p: BackupProgress): string {
  const of = (done: number, total: number | null) => (total === null ? `${done}` : `${done}/${total}`);
  const bytes = p.bytesTotal ? `${formatBytes(p.bytesDone)} of ${formatBytes(p.bytesTotal)} (${Math.floor((100 * p.bytesDone) / p.bytesTotal)}%)` : formatBytes(p.bytesDone);
  return `${STAGE_NAMES[p.stage]}: tables ${of(p.tablesDone, p.tablesTotal)}, ${p.rows} rows · files ${of(p.filesDone, p.filesTotal)} · ${bytes}`;
}

/**
 * Shows progress on a terminal as one line rewritten in place; into a log or a pipe (systemd, cron)
 * it writes a plain line when the stage changes and then at most every few seconds.
 */
export class ProgressDisplay {
  private last: BackupProgress | null = null;
  /** whether `last` has changed since it was written */
  private unwritten = false;
  private lastWrite = 0;
  private readonly tty: boolean;

  constructor(private readonly stream: NodeJS.WritableStream & { isTTY?: boolean } = process.stderr) {
    this.tty = stream.isTTY === true;
  }

  readonly report: ProgressListener = (p) => {
    const now = Date.now();
    const stageChanged = this.last?.stage !== p.stage;
    if (stageChanged) this.end();
    this.last = { ...p };
    this.unwritten = true;
    if (stageChanged || now - this.lastWrite >= (this.tty ? 100 : 5000)) this.write(p, false);
  };

  /** Finishes the current stage's line with its final state. */
  end(): void {
    if (this.last && (this.unwritten || this.tty)) this.write(this.last, true);
    this.last = null;
  }

  private write(p: BackupProgress, final: boolean): void {
    this.lastWrite = Date.now();
    this.unwritten = false;
    const text = describeProgress(p);
    if (this.tty) this.stream.write(`\r\x1b[2K${text}${final ? '\n' : ''}`);
    else this.stream.write(`${text}\n`);
  }
}
