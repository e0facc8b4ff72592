import type { Migration } from 'kysely';
import * as foundation from './202611270000-foundation.js';
import * as practice from './202611280000-practice.js';
import * as devices from './202611290000-devices.js';

/** Every migration, by name; names sort in the order they run. */
export const migrations: Record<string, Migration> = {
  '202611270000-foundation': foundation,
  '202611280000-practice': practice,
  '202611290000-devices': devices,
};
