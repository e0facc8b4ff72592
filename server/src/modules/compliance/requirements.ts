import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export interface Requirement {
  /** clause number with a Z prefix (T/ZSM 0038-2024), or G-… for GB/T 22239 level 2 */
  id: string;
  /** 应 shall, 宜 should, 可 may; G rows are all 应 */
  strength: string;
  text: string;
  /** the heading the row sits under, e.g. "5 Digital services" */
  section: string;
}

/** The requirement register shipped with the server (a copy of the standard's register, one row per clause). */
export const REQUIREMENTS_FILE = fileURLToPath(new URL('../../../data/requirements.md', import.meta.url));

/** Reads the rows of every table in the register; a row whose ID is not a clause ID is refused, so a typo cannot hide a clause. */
export function parseRequirements(markdown: string): Requirement[] {
  const rows: Requirement[] = [];
  let section = '';
  for (const [index, line] of markdown.split('\n').entries()) {
    const heading = /^##\s+(.+)$/.exec(line);
    if (heading) section = heading[1]!.trim();
    if (!line.startsWith('|') || /^\|\s*(ID|---)/.test(line)) continue;
    const cells = line.split('|').slice(1, -1).map((c) => c.trim());
    const id = cells[0] ?? '';
    if (!/^(Z\d+(\.\d+)*[a-f]?|G-[a-z]+)$/.test(id)) throw new Error(`requirements line ${index + 1}: "${id}" is not a requirement ID`);
    const strength = cells.length >= 3 ? cells[1]! : '应';
    const text = cells.length >= 3 ? cells[2]! : cells[1]!;
    if (rows.some((r) => r.id === id)) throw new Error(`requirements line ${index + 1}: ${id} appears twice`);
    rows.push({ id, strength, text, section });
  }
  return rows;
}

export const loadRequirements = (file = REQUIREMENTS_FILE): Requirement[] => parseRequirements(readFileSync(file, 'utf8'));
