/**
 * Attachments: images, files and voice messages, end-to-end encrypted.
 *
 * The browser encrypts a file under the conversation key (nacl.secretbox) and uploads only the
 * ciphertext to the private `attachments` bucket, at `<conversation_id>/<random uuid>`. The
 * message's `attachment` column says where it is (path, nonce, key epoch, ciphertext size); its
 * name, type and caption travel inside the encrypted content. Storage holds no plaintext, and the
 * policies below give the objects the same audience as the conversation's messages.
 */

insert into storage.buckets (id, name, public, file_size_limit, allowed_mime_types)
values ('attachments', 'attachments', false, 10485776, array['application/octet-stream'])
on conflict (id) do update
  set public = excluded.public,
      file_size_limit = excluded.file_size_limit,
      allowed_mime_types = excluded.allowed_mime_types;

/** The conversation an attachment object belongs to: the first folder of its name, or null. */
create or replace function private.attachment_conversation(name text)
returns uuid
language sql
immutable
security invoker
set search_path = ''
as $$
  select private.try_uuid((storage.foldername(attachment_conversation.name))[1])
$$;
revoke all on function private.attachment_conversation(text) from public;
grant execute on function private.attachment_conversation(text) to authenticated, service_role;

create policy "participants upload attachments to their conversations"
  on storage.objects for insert to authenticated
  with check (
    bucket_id = 'attachments'
    and private.attachment_conversation(name) in (select private.my_conversation_ids())
  );

create policy "participants read the attachments of their conversations"
  on storage.objects for select to authenticated
  using (
    bucket_id = 'attachments'
    and private.attachment_conversation(name) in (select private.my_conversation_ids())
  );

create policy "uploaders delete their attachments"
  on storage.objects for delete to authenticated
  using (bucket_id = 'attachments' and owner_id = (select auth.uid())::text);
