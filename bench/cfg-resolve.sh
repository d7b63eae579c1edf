#!/usr/bin/env bash
# bench/cfg-resolve.sh — cfg-resolve on the production config, beside
# envsubst over the same file and yq (jq over YAML) on it.
. "$(dirname "$0")/lib.sh"
cd "$REPO_ROOT"
export DATABASE_URL='postgresql://app:bench-password@127.0.0.1:5432/app?sslmode=require'
export JWT_SECRET='bench-jwt-secret-0123456789abcdef0123456789'
export SUPABASE_URL=https://example.supabase.co SUPABASE_ANON_KEY=anon-bench-key
export SUPABASE_SERVICE_ROLE_KEY=service-bench-key LLAMAPARSE_API_KEY=llama-bench-key
export OPENAI_API_KEY=openai-bench-key SLACK_WEBHOOK_URL=https://hooks.example.invalid/bench
export SMTP_PASSWORD=smtp-bench REDIS_URL=rediss://cache:6379/0 RENDER_SERVICE_ID=srv-bench
export RENDER_API_KEY=render-bench-key
hyperfine_compare "cfg-resolve config/production.yaml" \
	"cfg-resolve config/production.yaml" \
	"envsubst < config/production.yaml" \
	"yq . config/production.yaml"
