import type { Profile } from '../../../../firmware-profiles/index.js';

type Contract = typeof import('../../../../firmware-profiles/index.js');
let contract: Promise<Contract> | null = null;
let profiles: Promise<Map<string, Profile>> | null = null;

/**
 * The device contract (firmware-profiles/: message schemas and device profiles). Compiling its schemas
 * takes about a second, so it is loaded on first use rather than at every start of the CLI.
 */
export function deviceContract(): Promise<Contract> {
  contract ??= import('../../../../firmware-profiles/index.js');
  return contract;
}

/** The device profiles shipped with this version, loaded once. */
export function deviceProfiles(): Promise<Map<string, Profile>> {
  profiles ??= deviceContract().then((c) => c.loadProfiles());
  return profiles;
}
