import type { Migration } from 'kysely';
import * as foundation from './202611270000-foundation.js';
import * as practice from './202611280000-practice.js';
import * as devices from './202611290000-devices.js';
import * as doors from './202611300000-doors.js';
import * as agents from './202611300100-agents.js';
import * as media from './202611300200-media.js';
import * as visitors from './202612010000-visitors.js';
import * as meetings from './202612010100-meetings.js';
import * as kiosks from './202612010200-kiosks.js';
import * as portal from './202612020000-portal.js';
import * as notifications from './202612020100-notifications.js';
import * as archive from './202612020200-archive.js';
import * as deadlines from './202612020300-deadlines.js';
import * as documents from './202612020400-documents.js';
import * as clientRecords from './202612020500-client-records.js';
import * as evaluations from './202612020600-evaluations.js';
import * as compliance from './202612030000-compliance.js';
import * as keysAtRest from './202612030100-keys-at-rest.js';

/** Every migration, by name; names sort in the order they run. */
export const migrations: Record<string, Migration> = {
  '202611270000-foundation': foundation,
  '202611280000-practice': practice,
  '202611290000-devices': devices,
  '202611300000-doors': doors,
  '202611300100-agents': agents,
  '202611300200-media': media,
  '202612010000-visitors': visitors,
  '202612010100-meetings': meetings,
  '202612010200-kiosks': kiosks,
  '202612020000-portal': portal,
  '202612020100-notifications': notifications,
  '202612020200-archive': archive,
  '202612020300-deadlines': deadlines,
  '202612020400-documents': documents,
  '202612020500-client-records': clientRecords,
  '202612020600-evaluations': evaluations,
  '202612030000-compliance': compliance,
  '202612030100-keys-at-rest': keysAtRest,
};
