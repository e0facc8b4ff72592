import { Algorithm, hash, verify } from '@node-rs/argon2';
import type { PasswordPolicy } from '../../config.js';

// OWASP's argon2id baseline (19 MiB, 2 passes, 1 lane): ~20 ms per hash on this hardware.
const ARGON2_OPTIONS = { algorithm: Algorithm.Argon2id, memoryCost: 19_456, timeCost: 2, parallelism: 1 };

export function hashPassword(password: string): Promise<string> {
  return hash(password, ARGON2_OPTIONS);
}

export async function verifyPassword(passwordHash: string, password: string): Promise<boolean> {
  try {
    return await verify(passwordHash, password);
  } catch {
    return false;
  }
}

/** A hash of a random secret: verifying against it costs what a real check costs, so an unknown
 * username answers as slowly as a wrong password and cannot be told apart by timing. */
let dummyHash: Promise<string> | null = null;
export async function burnVerification(password: string): Promise<void> {
  dummyHash ??= hashPassword(`dummy-${Math.random()}`);
  await verifyPassword(await dummyHash, password);
}

const CLASSES: [RegExp, string][] = [
  [/[a-z]/, 'lowercase letters'],
  [/[A-Z]/, 'uppercase letters'],
  [/[0-9]/, 'digits'],
  [/[^a-zA-Z0-9]/, 'symbols'],
];

/** Problems with a new password under the configured policy; empty when it is acceptable. */
export function passwordProblems(policy: PasswordPolicy, password: string, username: string): string[] {
  const problems: string[] = [];
  if (password.length > 256) problems.push('at most 256 characters');
  if (!policy.enabled) return problems;
  if ([...password].length < policy.minLength) problems.push(`at least ${policy.minLength} characters`);
  const used = CLASSES.filter(([re]) => re.test(password)).length;
  if (used < policy.minClasses) {
    problems.push(`at least ${policy.minClasses} of: ${CLASSES.map(([, name]) => name).join(', ')}`);
  }
  if (username && password.toLowerCase().includes(username.toLowerCase())) problems.push('must not contain the username');
  return problems;
}

export function passwordExpired(policy: PasswordPolicy, changedAt: Date, now: Date): boolean {
  return policy.enabled && policy.maxAgeDays > 0 && now.getTime() - changedAt.getTime() > policy.maxAgeDays * 86_400_000;
}
