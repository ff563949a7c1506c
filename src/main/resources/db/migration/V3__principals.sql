-- Who sent each request: its principal (http:<API key name>, jms:<broker user>, outbox:<folder>). Requests
-- recorded before this migration have none: only an admin API key reads their state.
ALTER TABLE delivery ADD COLUMN principal VARCHAR(400);

-- An idempotency key is the principal's own: the same key from another client is another request, so that one
-- client can neither stop another's mail by claiming its key first nor learn its id. The table is made anew
-- (dropping a primary key is written differently in H2 and PostgreSQL). Keys recorded before this migration keep
-- the principal '' and stop a repeat from any principal until their window ends, as they did when they were made.
CREATE TABLE idempotency_claim (
    principal       VARCHAR(400) NOT NULL,
    idempotency_key VARCHAR(200) NOT NULL,
    delivery_id     VARCHAR(64)  NOT NULL,
    created_at      TIMESTAMP WITH TIME ZONE NOT NULL,
    PRIMARY KEY (principal, idempotency_key)
);
INSERT INTO idempotency_claim (principal, idempotency_key, delivery_id, created_at)
    SELECT '', idempotency_key, delivery_id, created_at FROM idempotency_key;
DROP TABLE idempotency_key;
ALTER TABLE idempotency_claim RENAME TO idempotency_key;
CREATE INDEX idempotency_key_delivery ON idempotency_key (delivery_id);
