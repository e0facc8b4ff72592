import type { Command } from 'commander';

/** `lawbox backup …` */
export function registerBackupCommands(_program: Command, _out: (line: string) => void): void {}
