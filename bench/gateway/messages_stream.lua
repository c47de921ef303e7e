-- Streaming Anthropic message (message_start ... message_stop), authenticated with x-api-key.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["x-api-key"] = os.getenv("WRK_KEY") or ""
wrk.headers["anthropic-version"] = "2023-06-01"
wrk.body = '{"model":"' .. (os.getenv("WRK_MODEL") or "stub-claude") ..
  '","max_tokens":64,"stream":true,"messages":[{"role":"user","content":"Say hello in five words."}]}'
