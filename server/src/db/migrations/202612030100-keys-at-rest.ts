import { sql, type Kysely } from 'kysely';

/**
 * Private signing keys may be stored sealed under the master key (src/secrets.ts: `lbx1:` and
 * base64 of nonce, ciphertext and tag) instead of in clear. A key row stays what it was, except that
 * its private half, once, goes from clear to sealed: nothing else may change, and a sealed key is
 * never overwritten (a bug or a stray statement must not be able to lose the firm's seal).
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`drop trigger signing_keys_keep on signing_keys`.execute(db);
  await sql`create function signing_key_guard() returns trigger language plpgsql as $$
    begin
      if tg_op = 'UPDATE' and (new.id, new.purpose, new.algorithm, new.public_key, new.created_at) is not distinct from (old.id, old.purpose, old.algorithm, old.public_key, old.created_at)
         and old.private_key not like 'lbx1:%' and new.private_key like 'lbx1:%' then
        return new;
      end if;
      raise exception 'signing_keys is a signed or issued record and is kept (% refused; only sealing a private key in clear is allowed)', tg_op using errcode = 'insufficient_privilege';
    end $$`.execute(db);
  await sql`create trigger signing_keys_keep before update or delete on signing_keys for each row execute function signing_key_guard()`.execute(db);
  await sql`alter table signing_keys drop constraint signing_keys_private_key_check`.execute(db);
  await sql`alter table signing_keys add constraint signing_keys_private_key_check check (private_key ~ '^([0-9a-f]{64}|lbx1:[A-Za-z0-9+/]+=*)$')`.execute(db);
  await sql`alter table access_signing_keys add constraint access_signing_keys_private_pem_check check (private_pem ~ '^(-----BEGIN PRIVATE KEY-----|lbx1:[A-Za-z0-9+/]+=*$)')`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop trigger signing_keys_keep on signing_keys`.execute(db);
  await sql`drop function signing_key_guard`.execute(db);
  await sql`create trigger signing_keys_keep before update or delete on signing_keys for each row execute function document_record_guard()`.execute(db);
  await sql`alter table access_signing_keys drop constraint access_signing_keys_private_pem_check`.execute(db);
  await sql`alter table signing_keys drop constraint signing_keys_private_key_check`.execute(db);
  await sql`alter table signing_keys add constraint signing_keys_private_key_check check (private_key ~ '^[0-9a-f]{64}$')`.execute(db);
}
