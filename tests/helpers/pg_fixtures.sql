-- pg_fixtures.sql — the application's database as a release expects it, for
-- db-check's tests: run as the superuser on appdb (pg_superuser_psql -f).
-- Schema upload_pipeline with four tables under row-level security, the two
-- extensions, a migrations table at 20250601000000, and a table outside the
-- expected list that has no RLS (for the "one table without RLS" case).
CREATE EXTENSION IF NOT EXISTS pgcrypto;
CREATE EXTENSION IF NOT EXISTS "uuid-ossp";

CREATE SCHEMA upload_pipeline AUTHORIZATION postgres;
GRANT USAGE ON SCHEMA upload_pipeline TO app;

CREATE TABLE upload_pipeline.documents (
	id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	owner_id uuid NOT NULL,
	filename text NOT NULL,
	created_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE upload_pipeline.upload_jobs (
	id bigserial PRIMARY KEY,
	document_id uuid REFERENCES upload_pipeline.documents(id),
	status text NOT NULL DEFAULT 'pending'
);
CREATE TABLE upload_pipeline.document_chunks (
	id bigserial PRIMARY KEY,
	document_id uuid REFERENCES upload_pipeline.documents(id),
	body text
);
CREATE TABLE upload_pipeline.audit_log (
	id bigserial PRIMARY KEY,
	at timestamptz NOT NULL DEFAULT now(),
	what text
);
CREATE TABLE upload_pipeline.scratch (id int);

ALTER TABLE upload_pipeline.documents ENABLE ROW LEVEL SECURITY;
ALTER TABLE upload_pipeline.upload_jobs ENABLE ROW LEVEL SECURITY;
ALTER TABLE upload_pipeline.document_chunks ENABLE ROW LEVEL SECURITY;
ALTER TABLE upload_pipeline.audit_log ENABLE ROW LEVEL SECURITY;
ALTER TABLE upload_pipeline.audit_log FORCE ROW LEVEL SECURITY;
CREATE POLICY app_all ON upload_pipeline.upload_jobs FOR ALL TO app USING (true);

GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA upload_pipeline TO app;

INSERT INTO upload_pipeline.upload_jobs (status)
SELECT CASE WHEN i % 4 = 0 THEN 'failed' ELSE 'pending' END FROM generate_series(1, 12) i;

CREATE TABLE upload_pipeline.schema_migrations (version text PRIMARY KEY, applied_at timestamptz DEFAULT now());
INSERT INTO upload_pipeline.schema_migrations (version)
VALUES ('20250101000000'), ('20250315000000'), ('20250601000000');
GRANT SELECT ON upload_pipeline.schema_migrations TO app;

-- db-check sees other roles' sessions (the activity check) as an operator
-- would grant it.
GRANT pg_read_all_stats TO app;
