-- The upload_pipeline schema of the document-upload API, as the demo's
-- database holds it: the tables, RLS on each, the extensions, the migrations.
\set ON_ERROR_STOP on
CREATE EXTENSION IF NOT EXISTS pgcrypto;
CREATE EXTENSION IF NOT EXISTS "uuid-ossp";
CREATE SCHEMA upload_pipeline AUTHORIZATION app;
SET search_path = upload_pipeline, public;
CREATE TABLE documents (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    owner_id uuid NOT NULL,
    filename text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE upload_jobs (
    id uuid PRIMARY KEY DEFAULT uuid_generate_v4(),
    document_id uuid NOT NULL REFERENCES documents(id),
    state text NOT NULL DEFAULT 'queued'
);
CREATE TABLE document_chunks (
    id bigserial PRIMARY KEY,
    document_id uuid NOT NULL REFERENCES documents(id),
    content text NOT NULL
);
CREATE TABLE audit_log (
    id bigserial PRIMARY KEY,
    at timestamptz NOT NULL DEFAULT now(),
    actor uuid,
    action text NOT NULL
);
CREATE TABLE schema_migrations (version text PRIMARY KEY);
INSERT INTO schema_migrations VALUES ('20250501000000'), ('20250601000000');
ALTER TABLE documents ENABLE ROW LEVEL SECURITY;
ALTER TABLE upload_jobs ENABLE ROW LEVEL SECURITY;
ALTER TABLE document_chunks ENABLE ROW LEVEL SECURITY;
ALTER TABLE audit_log ENABLE ROW LEVEL SECURITY;
CREATE POLICY documents_owner ON documents USING (owner_id = current_setting('app.user_id', true)::uuid);
ALTER TABLE documents OWNER TO app;
ALTER TABLE upload_jobs OWNER TO app;
ALTER TABLE document_chunks OWNER TO app;
ALTER TABLE audit_log OWNER TO app;
ALTER TABLE schema_migrations OWNER TO app;
