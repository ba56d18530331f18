import { type Kysely, sql } from 'kysely';

/**
 * Every change to a client row, by whatever writes it (the admin API and console, the CLI, an operator in psql),
 * is announced on the channel `idp_clients` with the client's id (an empty payload after a TRUNCATE: every
 * client), once the change commits. Each node keeps the clients it reads in memory and forgets one when its
 * notice comes (src/clients/client-cache.ts).
 */
export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    create function idp_client_changed() returns trigger language plpgsql as $$
    begin
      if tg_op = 'TRUNCATE' then
        perform pg_notify('idp_clients', '');
      elsif tg_op = 'DELETE' then
        perform pg_notify('idp_clients', old.client_id);
      else
        perform pg_notify('idp_clients', new.client_id);
        if tg_op = 'UPDATE' and old.client_id <> new.client_id then
          perform pg_notify('idp_clients', old.client_id);
        end if;
      end if;
      return null;
    end $$`.execute(db);
  await sql`create trigger clients_changed after insert or update or delete on clients for each row execute function idp_client_changed()`.execute(db);
  await sql`create trigger clients_truncated after truncate on clients for each statement execute function idp_client_changed()`.execute(db);
}
