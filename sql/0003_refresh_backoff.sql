-- After a transient failure (429, 5xx, timeout), no replica calls Microsoft for this mailbox before retry_after_at:
-- Microsoft's Retry-After when it gave one, else an exponential backoff with jitter.
ALTER TABLE mailboxes ADD COLUMN retry_after_at timestamptz;
