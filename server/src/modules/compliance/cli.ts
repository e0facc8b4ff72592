import type { Command } from 'commander';

/** `lawbox compliance …` */
export function registerComplianceCommands(_program: Command, _out: (line: string) => void): void {}
