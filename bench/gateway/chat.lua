-- Non-streaming OpenAI chat completion. WRK_KEY: the bearer key of the target; WRK_MODEL (stub-small).
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. (os.getenv("WRK_KEY") or "")
wrk.body = '{"model":"' .. (os.getenv("WRK_MODEL") or "stub-small") ..
  '","messages":[{"role":"user","content":"Say hello in five words."}],"stream":false}'
