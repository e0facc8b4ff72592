import path from 'node:path';
import type { Command } from 'commander';
import { loadConfig, type Config } from '../../config.js';
import { CliFailure, cliActor, withInstance } from '../../cli-support.js';
import { loadBackupKey } from './format.js';
import { formatBytes, ProgressDisplay } from './progress.js';
import { copyBackup, createBackup, pruneBackups, restoreBackup, verifyBackup, type BackupSummary } from './service.js';

/** `lawbox backup …` */
export function registerBackupCommands(program: Command, out: (line: string) => void): void {
  const backup = program
    .command('backup')
    .description('encrypted backups of the database and the stored files (key: LAWBOX_BACKUP_KEY_FILE; progress on stderr)');

  const describe = (b: BackupSummary) => {
    const m = b.manifest;
    out(`  made ${m.created_at} by lawbox ${m.lawbox_version} on ${m.instance} (${m.database.kind}), schema ${m.database.migrations.at(-1)}`);
    out(`  ${m.database.tables.length} tables, ${b.rows} rows, ${m.files} files, ${formatBytes(b.sizeBytes)}`);
  };
  const seconds = (started: number) => `${((performance.now() - started) / 1000).toFixed(1)} s`;

  backup
    .command('create')
    .description('back up the database and the stored files into one encrypted file, then copy it to LAWBOX_BACKUP_COPY_TO if set')
    .option('--out <path>', 'a directory (the file is named lawbox-<host>-<UTC time>.lbk inside) or a file path; default LAWBOX_BACKUP_DIR')
    .option('--no-copy', 'do not copy the new backup to LAWBOX_BACKUP_COPY_TO')
    .action(async (opts: { out?: string; copy: boolean }) => {
      const config = loadConfig();
      // Refused before the instance is opened (the embedded database takes seconds to open).
      loadBackupKey(config.backup.keyFile);
      const started = performance.now();
      await withInstance(config, async (ctx) => {
        const display = new ProgressDisplay();
        const created = await createBackup(ctx, cliActor(), { out: opts.out, onProgress: display.report }).finally(() => display.end());
        out(`backup written: ${created.path} (${seconds(started)})`);
        describe(created);
        if (!opts.copy || !config.backup.copyTo) return;
        const copied = await copyBackup(ctx, cliActor(), created.path, config.backup.copyTo).catch((err: Error) => {
          throw new CliFailure(`the backup was written to ${created.path}, but copying it to ${config.backup.copyTo} failed: ${err.message}`);
        });
        out(`copied to ${copied}`);
      });
    });

  backup
    .command('verify')
    .description('decrypt and check a backup completely (every chunk, entry hash and row) without changing anything; exits 1 naming what is wrong')
    .argument('<file>')
    .action(async (file: string) => {
      const started = performance.now();
      const display = new ProgressDisplay();
      const verified = await verifyBackup(loadConfig(), file, { onProgress: display.report }).finally(() => display.end());
      out(`backup intact: ${verified.path} (${seconds(started)})`);
      describe(verified);
    });

  backup
    .command('restore')
    .description('restore a backup into the empty instance the environment names (DATABASE_URL or LAWBOX_DATA_DIR); the file is verified before anything changes')
    .argument('<file>')
    .action(async (file: string) => {
      const config = loadConfig();
      const started = performance.now();
      const display = new ProgressDisplay();
      const restored = await restoreBackup(config, cliActor(), file, { onProgress: display.report }).finally(() => display.end());
      out(`restored ${restored.path} into ${targetName(config)} (${seconds(started)})`);
      describe(restored);
      if (restored.upgradedBy.length) out(`  then migrated to this version: ${restored.upgradedBy.join(', ')}`);
      if (!restored.audit.ok) throw new CliFailure(`restored, but the audit trail is BROKEN at seq ${restored.audit.badSeq}: ${restored.audit.reason} (it was so in the backup)`);
      out(`  audit trail intact: ${restored.audit.rows} records, last seq ${restored.audit.lastSeq}`);
    });

  backup
    .command('copy')
    .description('copy a backup to a second location: a local directory (e.g. a mounted SMB share) or an rsync target host:/path')
    .argument('<file>')
    .option('--to <dest>', 'where to copy it; default LAWBOX_BACKUP_COPY_TO')
    .action(async (file: string, opts: { to?: string }) => {
      const config = loadConfig();
      const dest = opts.to ?? config.backup.copyTo;
      if (!dest) throw new CliFailure('no destination: give --to DIR or host:/path, or set LAWBOX_BACKUP_COPY_TO');
      const copied = await withInstance(config, (ctx) => copyBackup(ctx, cliActor(), file, dest));
      out(`copied to ${copied}`);
    });

  backup
    .command('prune')
    .description('delete backups in LAWBOX_BACKUP_DIR older than LAWBOX_BACKUP_KEEP_DAYS (the newest is always kept)')
    .action(async () => {
      const config = loadConfig();
      const { deleted, kept } = await withInstance(config, (ctx) => pruneBackups(ctx, cliActor()));
      for (const b of deleted) out(`deleted ${b.path} (made ${b.createdAt.toISOString()})`);
      out(`${deleted.length} deleted, ${kept.length} kept in ${config.backup.dir} (older than ${config.backup.keepDays} days are deleted)`);
    });
}

function targetName(config: Config): string {
  // Never the URL itself: it may carry the password.
  return config.databaseUrl ? `the PostgreSQL database of DATABASE_URL (files in ${config.dataDir})` : `the embedded instance in ${path.resolve(config.dataDir)}`;
}
