-- The 24-hour recipient limit per sending mailbox is summed from here before every send.
CREATE INDEX delivery_sender_sent ON delivery (sender, state, updated_at);
